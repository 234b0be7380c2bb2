/**
 * Shared-state benchmark: how fast kiln creates and restores sstate objects, beside
 * `tar` piped through the same compressor on the same trees, and how long the mirror
 * availability check takes for 5000 objects.
 *
 * Usage:  tsx bench/sstate.ts [N] [--only zstd|xz]   (default: 300 objects, about 150 MB)
 *
 * The issue's scale is N = 1000 (about 500 MB). The default is smaller because xz -6
 * on one thread is slow (about 2 MB/s on a 2-vCPU VM: 1000 objects take over 10
 * minutes there, 300 about 3); `--only` runs one compressor.
 *
 * 1. Writes N synthetic task outputs (directory trees, about 0.5 MB each on average)
 *    into a fresh temp dir. Every tree has 11-51 small text-like files (0.25-8 kB),
 *    some trees have medium files (100 kB-1 MB, 410 per 1000 trees, the first with two
 *    .so symlinks) and a few a large one (5-20 MB, 12 per 1000 trees, at least one).
 *    Content is blocks of text made of pseudo-words mixed with blocks of random bytes,
 *    all from a fixed xorshift32 PRNG, so the trees are the same on every run.
 * 2. For zstd and for xz, one object per tree, one object at a time:
 *      create   kiln: createArchive([{ prefix: "inputs/0", dir }], out, { mtime, compression })
 *               baseline: sh -c 'tar -c -C DIR . | zstd -q -T1 -3 > F'  (or xz -T1 -6)
 *      restore  kiln: extractArchive(F, fresh dir)
 *               baseline: sh -c 'zstd -dc F | tar -x -C fresh dir'      (or xz -dc)
 *    Each phase is timed as a whole (wall clock) and gives objects/s and MB/s, MB
 *    being the input bytes (regular files of the trees, 10^6 bytes). kiln/baseline is
 *    the ratio of the times: above 1, kiln is slower. Every restored tree is then
 *    compared with its source (names, types, sizes, bytes, link targets), untimed.
 * 3. Starts an HTTP server on 127.0.0.1 (port 0) that answers HEAD for 5000 object
 *    paths (every second one exists, the others are 404), and times
 *    findOnMirrors(5000 items, SSTATE_MIRRORS = "file://.* http://127.0.0.1:PORT/sstate/PATH")
 *    with the plugin's default concurrency, MIRROR_RUNS times in one process.
 *
 * Prints tables and the issue's targets (restore within 1.3x of `tar -x` with the
 * same compressor; the 5000-object check under 1 s, from the first run); a missed
 * target is reported, not failed. Exit 1 only when something does not work: a
 * baseline pipeline fails, kiln throws, a restored tree differs from its source, or
 * findOnMirrors finds the wrong objects.
 *
 * Imports the compiled plugin (plugins/sstate/dist); builds it first
 * (`npx tsc -b packages/core plugins/sstate packages/cli`) when it is missing.
 * Env: TMPDIR picks where the trees and objects are written; KILN_KEEP_TMP=1 keeps them.
 */
import { BenchFailed, inTempDir, isMain, machine, progress } from "./common.js";
import { spawnSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type * as ArchiveModule from "../plugins/sstate/src/archive.js";
import type * as MirrorsModule from "../plugins/sstate/src/mirrors.js";
import { xorshift32 } from "./gen-layer.js";

/** Not the issue's 1000: see the header. */
const DEFAULT_OBJECTS = 300;
const SEED = 20250505;
/** mtime given to createArchive (any fixed value: archives are deterministic). */
const ARCHIVE_MTIME = 1_700_000_000;
const MB = 1e6;

/** Per 1000 objects: medium files (100 kB - 1 MB) and large files (5 - 20 MB). */
const MEDIUM_PER_1000 = 410;
const LARGE_PER_1000 = 12;
/** Small files per tree: SMALL_MIN .. SMALL_MIN + SMALL_SPREAD - 1. */
const SMALL_MIN = 10;
const SMALL_SPREAD = 41;

const MIRROR_OBJECTS = 5000;
const MIRROR_RUNS = 3;
/** findOnMirrors' default, which the plugin uses (the bench passes none). */
const MIRROR_CONCURRENCY = 32;

/** The targets the issue sets. */
const TARGET = { restoreRatio: 1.3, mirrorObjects: MIRROR_OBJECTS, mirrorSeconds: 1 } as const;

type Compression = ArchiveModule.Compression;
const COMPRESSORS: readonly Compression[] = ["zstd", "xz"];

/**
 * The baseline pipelines, run with `sh -c SCRIPT sh $1 $2`: $1 is the tree (create) or
 * the archive (restore), $2 the archive or the directory to extract into. sh (dash)
 * has no pipefail, so a failing tar on the left says so on stderr, and any output on
 * stderr counts as a failure.
 */
const BASELINE: Record<Compression, { create: string; restore: string; createLabel: string; restoreLabel: string }> = {
  zstd: {
    create: '{ tar -c -C "$1" . || echo "tar exited $?" >&2; } | zstd -q -T1 -3 > "$2"',
    restore: 'zstd -q -dc "$1" | tar -x -C "$2"',
    createLabel: "tar -c | zstd -T1 -3",
    restoreLabel: "zstd -dc | tar -x",
  },
  xz: {
    create: '{ tar -c -C "$1" . || echo "tar exited $?" >&2; } | xz -T1 -6 > "$2"',
    restore: 'xz -dc "$1" | tar -x -C "$2"',
    createLabel: "tar -c | xz -T1 -6",
    restoreLabel: "xz -dc | tar -x",
  },
};

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const archiveJs = path.join(repoRoot, "plugins", "sstate", "dist", "archive.js");
const mirrorsJs = path.join(repoRoot, "plugins", "sstate", "dist", "mirrors.js");
const coreIndex = path.join(repoRoot, "packages", "core", "dist", "index.js");

/** Something did not work (not: something was slow); carries what to show the user. */


function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

interface Args {
  objects: number;
  compressors: Compression[];
}

function parseArgs(argv: readonly string[]): Args | undefined {
  let objects: number | undefined;
  let compressors: Compression[] = [...COMPRESSORS];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--only") {
      const c = argv[++i];
      if (c !== "zstd" && c !== "xz") return undefined;
      compressors = [c];
    } else if (/^\d+$/.test(arg) && objects === undefined) {
      objects = Number(arg);
      if (!Number.isSafeInteger(objects) || objects < 1) return undefined;
    } else return undefined;
  }
  return { objects: objects ?? DEFAULT_OBJECTS, compressors };
}

/** Build core and the sstate plugin when their output is missing (as `pnpm build` would). */
function ensureBuilt(): boolean {
  if (existsSync(archiveJs) && existsSync(mirrorsJs) && existsSync(coreIndex)) return true;
  progress(`${path.relative(repoRoot, archiveJs)} or its dependencies are missing: building`);
  const result = spawnSync("npx", ["tsc", "-b", "packages/core", "plugins/sstate", "packages/cli"], {
    cwd: repoRoot,
    stdio: ["ignore", 2, 2],
  });
  if (result.error) progress(`could not run npx tsc: ${result.error.message}`);
  return result.status === 0 && existsSync(archiveJs) && existsSync(mirrorsJs);
}

function missingTools(): string[] {
  const has = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
  return ["tar", "zstd", "xz"].filter((cmd) => !has(cmd));
}

// ---------------------------------------------------------------------------
// Synthetic task outputs

/** Random bytes from the PRNG (4 per step). */
function randomBytes(next: () => number, size: number): Buffer {
  const words = new Uint32Array(Math.ceil(size / 4));
  for (let i = 0; i < words.length; i++) words[i] = next();
  return Buffer.from(words.buffer, 0, size);
}

/**
 * A text corpus of `size` bytes: lines of pseudo-words (a 600-word vocabulary) and
 * some punctuation, a bit like source code or documentation. Files take slices of it.
 */
function textCorpus(next: () => number, size: number): Buffer {
  const letters = "etaoinshrdlcumwfgypbvkjxqz_";
  const vocab: string[] = [];
  for (let w = 0; w < 600; w++) {
    let word = "";
    const len = 2 + (next() % 9);
    for (let c = 0; c < len; c++) word += letters[next() % (c === 0 ? 26 : letters.length)];
    vocab.push(word);
  }
  const punct = [" ", " ", " ", " ", ", ", "(", ") ", " = ", "; ", ".", "->", " {", " }"];
  const parts: string[] = [];
  let length = 0;
  while (length < size) {
    let line = " ".repeat(2 * (next() % 4));
    const words = 3 + (next() % 10);
    for (let w = 0; w < words; w++) line += vocab[next() % vocab.length] + punct[next() % punct.length]!;
    line += "\n";
    parts.push(line);
    length += line.length;
  }
  return Buffer.from(parts.join("")).subarray(0, size);
}

const CORPUS_BYTES = 8 * 1024 * 1024;

/**
 * File content: blocks of 4-64 KB, each either a slice of the text corpus or, with
 * probability `randomShare`, random bytes (incompressible).
 */
function fileContent(next: () => number, corpus: Buffer, size: number, randomShare: number): Buffer {
  const blocks: Buffer[] = [];
  let left = size;
  while (left > 0) {
    const len = Math.min(left, 4096 + (next() % 61_440));
    if (next() / 0x1_0000_0000 < randomShare) blocks.push(randomBytes(next, len));
    else {
      const at = next() % (corpus.length - len);
      blocks.push(corpus.subarray(at, at + len));
    }
    left -= len;
  }
  return blocks.length === 1 ? blocks[0]! : Buffer.concat(blocks, size);
}

interface Dataset {
  trees: string[];
  /** Bytes of regular files in each tree. */
  bytes: number[];
  totalBytes: number;
  files: number;
  symlinks: number;
  small: number;
  medium: number;
  large: number;
}

/** Write `n` task-output trees under `root`/src: the same for the same n on every run. */
function generateTrees(n: number, root: string): Dataset {
  const next = xorshift32(SEED);
  const corpus = textCorpus(next, CORPUS_BYTES);
  const width = Math.max(4, String(n - 1).length);

  const medium = new Array<number>(n).fill(0);
  const mediumCount = Math.round((n * MEDIUM_PER_1000) / 1000);
  for (let m = 0; m < mediumCount; m++) medium[next() % n]!++;
  const large = new Array<number>(n).fill(0);
  const largeCount = Math.max(1, Math.round((n * LARGE_PER_1000) / 1000));
  for (let k = 0; k < largeCount; k++) large[Math.floor(((k + 0.5) * n) / largeCount)]!++;

  const data: Dataset = { trees: [], bytes: [], totalBytes: 0, files: 0, symlinks: 0, small: 0, medium: 0, large: 0 };
  for (let i = 0; i < n; i++) {
    const name = `pkg${String(i).padStart(width, "0")}`;
    const tree = path.join(root, "src", name);
    let bytes = 0;
    const write = (rel: string, content: Buffer, mode = 0o644) => {
      const file = path.join(tree, rel);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, content, { mode });
      bytes += content.length;
      data.files++;
    };
    const smallDirs = [
      `usr/include/${name}`,
      `usr/share/doc/${name}`,
      `usr/lib/${name}/modules`,
      `usr/share/${name}/data/a`,
      `usr/share/${name}/data/b`,
    ];
    const smallFiles = SMALL_MIN + (next() % SMALL_SPREAD);
    for (let s = 0; s < smallFiles; s++) {
      const size = 256 + (next() % (8_000 - 256));
      // 1 small file in 8 is binary-ish (half random), the others text
      const share = next() % 8 === 0 ? 0.5 : 0;
      const dir = smallDirs[s % smallDirs.length]!;
      write(`${dir}/f${s}${s % smallDirs.length === 0 ? ".h" : ".txt"}`, fileContent(next, corpus, size, share));
      data.small++;
    }
    write(`etc/${name}.conf`, fileContent(next, corpus, 200 + (next() % 2000), 0));
    data.small++;
    for (let m = 0; m < medium[i]!; m++) {
      const size = 100_000 + (next() % 900_000);
      const lib = m === 0 ? `lib${name}.so.1.0` : `lib${name}-${m}.so.1.0`;
      write(`usr/lib/${lib}`, fileContent(next, corpus, size, 0.3), 0o755);
      if (m === 0) {
        symlinkSync(lib, path.join(tree, `usr/lib/lib${name}.so.1`));
        symlinkSync(`lib${name}.so.1`, path.join(tree, `usr/lib/lib${name}.so`));
        data.symlinks += 2;
      }
      data.medium++;
    }
    for (let k = 0; k < large[i]!; k++) {
      const size = 5_000_000 + (next() % 15_000_000);
      write(`usr/bin/${name}${k ? `-${k}` : ""}`, fileContent(next, corpus, size, 0.4), 0o755);
      data.large++;
    }
    data.trees.push(tree);
    data.bytes.push(bytes);
    data.totalBytes += bytes;
  }
  return data;
}

// ---------------------------------------------------------------------------
// Checks

/** The first difference between trees `a` (source) and `b` (restored), or undefined. */
function diffTrees(a: string, b: string): string | undefined {
  const names = (dir: string) => readdirSync(dir).sort();
  const an = names(a);
  const bn = names(b);
  if (an.join("\0") !== bn.join("\0")) {
    const missing = an.filter((x) => !bn.includes(x));
    const extra = bn.filter((x) => !an.includes(x));
    return `${b}: missing [${missing.join(", ")}], extra [${extra.join(", ")}]`;
  }
  for (const name of an) {
    const pa = path.join(a, name);
    const pb = path.join(b, name);
    const sa = lstatSync(pa);
    const sb = lstatSync(pb);
    if (sa.isSymbolicLink()) {
      if (!sb.isSymbolicLink()) return `${pb}: not a symlink`;
      if (readlinkSync(pa) !== readlinkSync(pb)) return `${pb}: points to ${readlinkSync(pb)}, not ${readlinkSync(pa)}`;
    } else if (sa.isDirectory()) {
      if (!sb.isDirectory()) return `${pb}: not a directory`;
      const d = diffTrees(pa, pb);
      if (d) return d;
    } else {
      if (!sb.isFile()) return `${pb}: not a regular file`;
      if (sa.size !== sb.size) return `${pb}: ${sb.size} bytes, expected ${sa.size}`;
      if (!readFileSync(pa).equals(readFileSync(pb))) return `${pb}: content differs`;
    }
  }
  return undefined;
}

/** Flush dirty pages before a timed phase, so one phase's writeback is not paid by the next. */
function sync(): void {
  spawnSync("sync", [], { stdio: "ignore" });
}

function sh(script: string, args: readonly string[], label: string): void {
  const r = spawnSync("sh", ["-c", script, "sh", ...args], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  const stderr = r.stderr?.trim() ?? "";
  if (r.error || r.status !== 0 || stderr !== "") {
    const how = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
    throw new BenchFailed(`${label}: \`${script}\` with ${args.join(" ")} failed (${how})\n${stderr}\n`);
  }
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) total += statSync(path.join(dir, name)).size;
  return total;
}

// ---------------------------------------------------------------------------
// Archive phases

interface Phase {
  seconds: number;
}

interface CompressorResult {
  compression: Compression;
  kilnCreate: Phase;
  baseCreate: Phase;
  kilnRestore: Phase;
  baseRestore: Phase;
  kilnArchiveBytes: number;
  baseArchiveBytes: number;
}

async function benchCompressor(
  archive: typeof ArchiveModule,
  compression: Compression,
  data: Dataset,
  root: string,
  keep: boolean,
): Promise<CompressorResult> {
  const n = data.trees.length;
  const ext = archive.EXTENSION[compression];
  const dir = path.join(root, compression);
  const kilnObjects = path.join(dir, "kiln-objects");
  const baseObjects = path.join(dir, "tar-objects");
  const kilnOut = path.join(dir, "kiln-restored");
  const baseOut = path.join(dir, "tar-restored");
  for (const d of [kilnObjects, baseObjects, kilnOut, baseOut]) mkdirSync(d, { recursive: true });
  const objectName = (i: number) => `${path.basename(data.trees[i]!)}.${ext}`;
  const base = BASELINE[compression];
  const rate = (label: string, s: number) =>
    progress(`  ${compression} ${label}: ${s.toFixed(3)} s, ${(n / s).toFixed(1)} obj/s, ${(data.totalBytes / MB / s).toFixed(1)} MB/s`);

  sync();
  let start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    await archive.createArchive([{ prefix: "inputs/0", dir: data.trees[i]! }], path.join(kilnObjects, objectName(i)), {
      mtime: ARCHIVE_MTIME,
      compression,
    });
  }
  const kilnCreate = { seconds: seconds(start) };
  rate("create, kiln createArchive", kilnCreate.seconds);

  sync();
  const createScript = base.create;
  start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) sh(createScript, [data.trees[i]!, path.join(baseObjects, objectName(i))], `${compression} create`);
  const baseCreate = { seconds: seconds(start) };
  rate(`create, ${base.createLabel}`, baseCreate.seconds);

  sync();
  start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    await archive.extractArchive(path.join(kilnObjects, objectName(i)), path.join(kilnOut, String(i)));
  }
  const kilnRestore = { seconds: seconds(start) };
  rate("restore, kiln extractArchive", kilnRestore.seconds);

  sync();
  const restoreScript = base.restore;
  start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const out = path.join(baseOut, String(i));
    mkdirSync(out);
    sh(restoreScript, [path.join(baseObjects, objectName(i)), out], `${compression} restore`);
  }
  const baseRestore = { seconds: seconds(start) };
  rate(`restore, ${base.restoreLabel}`, baseRestore.seconds);

  // Untimed: every restored tree must be its source again.
  const checkStart = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const kilnTree = path.join(kilnOut, String(i));
    const top = readdirSync(kilnTree);
    const kilnDiff =
      top.length !== 1 || top[0] !== "inputs" || readdirSync(path.join(kilnTree, "inputs")).join() !== "0"
        ? `${kilnTree}: holds [${top.join(", ")}], expected only inputs/0`
        : diffTrees(data.trees[i]!, path.join(kilnTree, "inputs", "0"));
    if (kilnDiff) throw new BenchFailed(`RESTORE MISMATCH (${compression}, kiln): ${kilnDiff}\n`);
    const baseDiff = diffTrees(data.trees[i]!, path.join(baseOut, String(i)));
    if (baseDiff) throw new BenchFailed(`RESTORE MISMATCH (${compression}, ${base.restoreLabel}): ${baseDiff}\n`);
  }
  progress(`  ${compression}: all ${2 * n} restored trees match their sources (checked in ${seconds(checkStart).toFixed(1)} s, untimed)`);

  const result: CompressorResult = {
    compression,
    kilnCreate,
    baseCreate,
    kilnRestore,
    baseRestore,
    kilnArchiveBytes: dirBytes(kilnObjects),
    baseArchiveBytes: dirBytes(baseObjects),
  };
  if (!keep) rmSync(dir, { recursive: true, force: true });
  return result;
}

// ---------------------------------------------------------------------------
// Mirror availability

interface MirrorResult {
  runs: number[];
  found: number;
  heads: number;
  connections: number;
  concurrency: number;
}

function mirrorItems(count: number): { key: number; rel: string; exists: boolean }[] {
  const items: { key: number; rel: string; exists: boolean }[] = [];
  for (let i = 0; i < count; i++) {
    const hash = createHash("sha256").update(`object ${i}`).digest("hex");
    const rel = `${hash.slice(0, 2)}/sstate:pkg${i}:core2-64-poky-linux:1.0:r0:core2-64:11:${hash}_populate_sysroot.tar.zst`;
    items.push({ key: i, rel, exists: i % 2 === 0 });
  }
  return items;
}

async function benchMirrors(mirrors: typeof MirrorsModule): Promise<MirrorResult> {
  const items = mirrorItems(MIRROR_OBJECTS);
  const present = new Set(items.filter((it) => it.exists).map((it) => `/sstate/${it.rel}`));
  let heads = 0;
  let connections = 0;
  const server: Server = createServer((req, res) => {
    if (req.method === "HEAD") heads++;
    let p: string;
    try {
      p = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    } catch {
      p = "";
    }
    if (present.has(p)) res.writeHead(200, { "content-length": "123456", "content-type": "application/octet-stream" });
    else res.writeHead(404, { "content-length": "0" });
    res.end();
  });
  server.on("connection", () => connections++);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  try {
    const port = (server.address() as AddressInfo).port;
    const mirrorList = mirrors.parseMirrors(`file://.* http://127.0.0.1:${port}/sstate/PATH`);
    const runs: number[] = [];
    let found = 0;
    for (let r = 1; r <= MIRROR_RUNS; r++) {
      const start = process.hrtime.bigint();
      const hits = await mirrors.findOnMirrors(
        items.map(({ key, rel }) => ({ key, rel })),
        mirrorList,
      );
      const s = seconds(start);
      runs.push(s);
      const wrong = items.filter((it) => hits.has(it.key) !== it.exists);
      if (wrong.length > 0) {
        throw new BenchFailed(
          `MIRROR RESULT WRONG (run ${r}): ${wrong.length} of ${items.length} objects, e.g. ${wrong[0]!.rel} ` +
            `(exists: ${wrong[0]!.exists}, found: ${hits.has(wrong[0]!.key)})\n`,
        );
      }
      found = hits.size;
      progress(`  mirror check ${r}/${MIRROR_RUNS}: ${s.toFixed(3)} s for ${items.length} objects, ${hits.size} found`);
    }
    return { runs, found, heads, connections, concurrency: MIRROR_CONCURRENCY };
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

// ---------------------------------------------------------------------------
// Output

function table(header: readonly string[], body: readonly (readonly string[])[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((cells) => cells[c]!.length)));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ");
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

function restoreMiss(r: CompressorResult): boolean {
  return r.kilnRestore.seconds / r.baseRestore.seconds > TARGET.restoreRatio;
}

function formatArchives(results: readonly CompressorResult[], n: number, totalBytes: number): string {
  const rows: string[][] = [];
  for (const r of results) {
    const base = BASELINE[r.compression];
    for (const [phase, kiln, baseline, label] of [
      ["create", r.kilnCreate, r.baseCreate, base.createLabel],
      ["restore", r.kilnRestore, r.baseRestore, base.restoreLabel],
    ] as const) {
      const ratio = kiln.seconds / baseline.seconds;
      rows.push([
        r.compression,
        phase,
        kiln.seconds.toFixed(2),
        (n / kiln.seconds).toFixed(1),
        (totalBytes / MB / kiln.seconds).toFixed(1),
        baseline.seconds.toFixed(2),
        (n / baseline.seconds).toFixed(1),
        (totalBytes / MB / baseline.seconds).toFixed(1),
        label,
        `${ratio.toFixed(2)}x`,
        phase === "restore" ? `<= ${TARGET.restoreRatio}x ${restoreMiss(r) ? "MISS" : "ok"}` : "-",
      ]);
    }
  }
  return table(
    ["comp", "phase", "kiln s", "kiln obj/s", "kiln MB/s", "base s", "base obj/s", "base MB/s", "baseline", "kiln/base", "target"],
    rows,
  );
}

function formatSizes(results: readonly CompressorResult[], totalBytes: number): string {
  return table(
    ["comp", "input MB", "kiln archives MB", "kiln ratio", "baseline archives MB", "baseline ratio"],
    results.map((r) => [
      r.compression,
      (totalBytes / MB).toFixed(1),
      (r.kilnArchiveBytes / MB).toFixed(1),
      `${(totalBytes / r.kilnArchiveBytes).toFixed(2)}:1`,
      (r.baseArchiveBytes / MB).toFixed(1),
      `${(totalBytes / r.baseArchiveBytes).toFixed(2)}:1`,
    ]),
  );
}

function formatMirrors(m: MirrorResult): string {
  const first = m.runs[0]!;
  const sorted = [...m.runs].sort((a, b) => a - b);
  return table(
    ["objects", "found", "first s", "obj/s", "best s", "HEADs", "connections", "target"],
    [
      [
        String(MIRROR_OBJECTS),
        String(m.found),
        first.toFixed(3),
        Math.round(MIRROR_OBJECTS / first).toString(),
        sorted[0]!.toFixed(3),
        String(m.heads),
        String(m.connections),
        `< ${TARGET.mirrorSeconds} s ${first >= TARGET.mirrorSeconds ? "MISS" : "ok"}`,
      ],
    ],
  );
}

async function main(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args === undefined) {
    process.stderr.write(
      `usage: tsx bench/sstate.ts [N] [--only zstd|xz]   (N objects of about 0.5 MB each, default ${DEFAULT_OBJECTS})\n`,
    );
    return 2;
  }
  const n = args.objects;
  const missing = missingTools();
  if (missing.length > 0) {
    process.stderr.write(`missing programs: ${missing.join(", ")} (the baselines and kiln's zstd need them)\n`);
    return 1;
  }
  if (!ensureBuilt()) {
    process.stderr.write(`${archiveJs} is missing and the build failed\n`);
    return 1;
  }
  const archive = (await import(pathToFileURL(archiveJs).href)) as typeof ArchiveModule;
  const mirrors = (await import(pathToFileURL(mirrorsJs).href)) as typeof MirrorsModule;

  return inTempDir("sstate", async (root, keep) => {
    progress(
      `kiln sstate benchmark: ${machine()}, ` +
        `${n} objects, data in ${root}`,
    );
    let start = process.hrtime.bigint();
    const data = generateTrees(n, root);
    progress(
      `  generated ${n} trees in ${seconds(start).toFixed(1)} s: ${(data.totalBytes / MB).toFixed(1)} MB in ` +
        `${data.files} files (${data.small} small, ${data.medium} medium, ${data.large} large) and ${data.symlinks} symlinks; ` +
        `largest tree ${(Math.max(...data.bytes) / MB).toFixed(1)} MB`,
    );

    const results: CompressorResult[] = [];
    for (const compression of args.compressors) {
      start = process.hrtime.bigint();
      results.push(await benchCompressor(archive, compression, data, root, keep));
      progress(`  ${compression} done in ${seconds(start).toFixed(1)} s`);
    }
    const mirror = await benchMirrors(mirrors);

    const notes: string[] = [];
    for (const r of results) {
      const ratio = r.kilnRestore.seconds / r.baseRestore.seconds;
      notes.push(
        `${restoreMiss(r) ? "MISS" : "met"}: restore with ${r.compression}: kiln ${ratio.toFixed(2)}x ` +
          `\`${BASELINE[r.compression].restoreLabel}\`, target <= ${TARGET.restoreRatio}x`,
      );
    }
    notes.push(
      `${mirror.runs[0]! >= TARGET.mirrorSeconds ? "MISS" : "met"}: mirror check of ${MIRROR_OBJECTS} objects ` +
        `${mirror.runs[0]!.toFixed(3)} s (first run), target < ${TARGET.mirrorSeconds} s`,
    );
    process.stdout.write(
      `\n${n} objects, ${(data.totalBytes / MB).toFixed(1)} MB input (${data.files} files, ${data.symlinks} symlinks), ` +
        `one object at a time:\n\n` +
        formatArchives(results, n, data.totalBytes) +
        `\n\ns = wall-clock seconds for all ${n} objects; MB/s = input MB (10^6 bytes of regular files) / s;\n` +
        `kiln = createArchive / extractArchive (tar-stream in process; zstd program -3 -T1, or lzma-native preset 6, 1 thread);\n` +
        `base = the \`sh -c\` pipeline in the baseline column, per object; kiln/base = kiln s / base s (above 1: kiln slower).\n\n` +
        formatSizes(results, data.totalBytes) +
        `\n\nmirror availability (findOnMirrors, concurrency ${mirror.concurrency}, HTTP HEAD to 127.0.0.1; ` +
        `half the objects exist), ${MIRROR_RUNS} runs in one process:\n\n` +
        formatMirrors(mirror) +
        `\n\nfirst s = the first run (new connections), as a build sees it; HEADs and connections = what the server saw over all runs.\n` +
        `targets (issue): restore within ${TARGET.restoreRatio}x of \`tar -x\` with the same compressor; ` +
        `${MIRROR_OBJECTS}-object check < ${TARGET.mirrorSeconds} s.\n` +
        notes.join("\n") +
        "\n",
    );
    return 0;
  });
}

if (isMain(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
