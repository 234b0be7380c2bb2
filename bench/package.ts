/**
 * Package writer benchmark: kiln's `writeDeb` beside `dpkg-deb --build` on the same
 * ~100 MB tree of real files, per compressor at the same level; then kiln's ipk and
 * rpm writers alone, when those plugins exist.
 *
 * Usage:  tsx bench/package.ts [RUNS] [--mb N] [--zstd-level L] [--only xz|zst]
 *         (default: best of 3 runs, a 100 MB tree, zstd at kiln's default level 19)
 *
 * 1. Copies real files into a temp dir, in sorted order, until it holds about N MB:
 *    70 % from /usr/lib/x86_64-linux-gnu (binaries), 30 % from /usr/share/doc (text,
 *    many small files, symlinks). Unreadable and special files are skipped, symlinks
 *    kept, files larger than what is left of a budget skipped. Not timed.
 * 2. dpkg-deb needs DEBIAN/control inside the tree it builds: a hard-linked copy of the
 *    tree (same inodes, so the same page cache) gets one. Not timed.
 * 3. Per compressor, RUNS rounds of: kiln `writeDeb({ control, root, mtime,
 *    compression })` in this process, then `dpkg-deb --root-owner-group -Z<c> -z<level>
 *    --build` (SOURCE_DATE_EPOCH set, as kiln's mtime). Each is timed from call to
 *    finish; the best run counts. dpkg-deb uses every core for xz and zstd (liblzma's
 *    and libzstd's threads), and so does kiln. kiln also writes md5sums and
 *    Installed-Size, which dpkg-deb --build does not compute.
 * 4. Untimed checks: `dpkg-deb --info` and `--fsys-tarfile` read kiln's package, with
 *    as many data.tar members as dpkg-deb's has.
 *
 * MB = input bytes (regular files) / 10^6. kiln/dpkg-deb = kiln s / dpkg-deb s: above
 * 1, kiln is slower; the target is <= 1.0 (a miss is printed, not failed). Exit 1 only
 * when something does not work. The machine is often shared: compare the ratios of
 * one run, not times across runs.
 *
 * Imports plugins/package-deb/src (which loads @kiln/package's dist): builds
 * packages/core, plugins/package and plugins/package-deb first when a dist is missing
 * or older than its sources. TMPDIR picks the temp dir; KILN_KEEP_TMP=1 keeps it.
 */
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { BenchFailed, inTempDir, isMain, machine, progress } from "./common.js";

const MB = 1e6;
const MTIME = 1_700_000_000;
const SOURCES = [
  { dir: "/usr/lib/x86_64-linux-gnu", share: 0.7 },
  { dir: "/usr/share/doc", share: 0.3 },
] as const;
/** kiln's default levels (@kiln/package DEFAULT_LEVEL), given to dpkg-deb as -z. */
const LEVEL = { xz: 6, zst: 19 } as const;
const DPKG_NAME = { xz: "xz", zst: "zstd" } as const;
type Compression = keyof typeof LEVEL;

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

interface Args {
  runs: number;
  mb: number;
  levels: Record<Compression, number>;
  compressors: Compression[];
}

function parseArgs(argv: readonly string[]): Args | undefined {
  const args: Args = { runs: 3, mb: 100, levels: { ...LEVEL }, compressors: ["xz", "zst"] };
  const int = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s) && Number(s) > 0 ? Number(s) : undefined);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--mb") args.mb = int(argv[++i]) ?? NaN;
    else if (a === "--zstd-level") args.levels.zst = int(argv[++i]) ?? NaN;
    else if (a === "--only") {
      const c = argv[++i];
      if (c !== "xz" && c !== "zst") return undefined;
      args.compressors = [c];
    } else if (int(a) !== undefined) args.runs = int(a)!;
    else return undefined;
  }
  return Number.isNaN(args.mb) || Number.isNaN(args.levels.zst) ? undefined : args;
}

/** Build core and the package plugins when a dist is missing or older than its src (as `pnpm build` would). */
function ensureBuilt(): void {
  const pkgs = ["packages/core", "plugins/package", "plugins/package-deb"];
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce((m, e) => Math.max(m, e.isDirectory() ? newest(path.join(dir, e.name)) : statSync(path.join(dir, e.name)).mtimeMs), 0);
  const stale = pkgs.filter((p) => {
    const index = path.join(repoRoot, p, "dist", "index.js");
    return !existsSync(index) || newest(path.join(repoRoot, p, "src")) > statSync(index).mtimeMs;
  });
  if (!stale.length) return;
  progress(`${stale.join(", ")}: dist missing or stale, building`);
  const r = spawnSync("npx", ["tsc", "-b", ...pkgs], { cwd: repoRoot, stdio: ["ignore", 2, 2] });
  if (r.status !== 0) progress("tsc -b reported errors (the dist it emitted is used)");
}

function missingTools(): string[] {
  const has = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
  return ["dpkg-deb", "xz", "zstd"].filter((c) => !has(c));
}

// ---------------------------------------------------------------------------
// The tree

/** Copy files from `src` into `dst` (sorted walk) until `budget` bytes; returns the bytes copied. */
export function copyTree(src: string, dst: string, budget: number): number {
  let left = budget;
  const walk = (from: string, to: string) => {
    let names: string[];
    try {
      names = readdirSync(from).sort();
    } catch {
      return; // unreadable directory: skipped, as the header says
    }
    mkdirSync(to, { recursive: true });
    for (const name of names) {
      if (left <= 0) return;
      const s = path.join(from, name);
      const d = path.join(to, name);
      const st = lstatSync(s);
      if (st.isSymbolicLink()) symlinkSync(readlinkSync(s), d);
      else if (st.isDirectory()) walk(s, d);
      else if (st.isFile() && st.size <= left) {
        try {
          copyFileSync(s, d);
        } catch {
          continue; // unreadable file: skipped
        }
        chmodSync(d, st.mode & 0o777);
        left -= st.size;
      }
    }
  };
  walk(src, dst);
  return budget - left;
}

function treeStats(dir: string): { bytes: number; files: number; links: number } {
  const out = { bytes: 0, files: 0, links: 0 };
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isSymbolicLink()) out.links++;
      else if (e.isDirectory()) walk(p);
      else if (e.isFile()) (out.bytes += statSync(p).size), out.files++;
    }
  };
  walk(dir);
  return out;
}

// ---------------------------------------------------------------------------
// Timing

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", env, maxBuffer: 1 << 28, stdio: ["ignore", "pipe", "pipe"] });
  if (r.error || r.status !== 0) throw new BenchFailed(`${cmd} ${args.join(" ")} failed (${r.error?.message ?? `exit ${r.status}`})\n${r.stderr}\n`);
  return r.stdout;
}

const CONTROL: [string, string][] = [
  ["Package", "bench-tree"],
  ["Version", "1.0"],
  ["Architecture", "amd64"],
  ["Maintainer", "kiln bench <bench@localhost>"],
  ["Description", "files copied from /usr for a benchmark"],
];

type WriteDeb = (spec: { control: [string, string][]; root: string; mtime: number; compression: Compression; compressionLevel?: number }, out: string) => Promise<void>;

interface Row {
  label: string;
  kiln: number[];
  dpkg: number[];
  kilnBytes: number;
  dpkgBytes: number;
}

async function benchDeb(writeDeb: WriteDeb, c: Compression, level: number, tree: string, staging: string, dir: string, runs: number): Promise<Row> {
  const kilnOut = path.join(dir, `kiln.${c}.deb`);
  const dpkgOut = path.join(dir, `dpkg.${c}.deb`);
  const row: Row = { label: `${DPKG_NAME[c]} -${level}`, kiln: [], dpkg: [], kilnBytes: 0, dpkgBytes: 0 };
  const env = { ...process.env, SOURCE_DATE_EPOCH: String(MTIME) };
  for (let i = 0; i < runs; i++) {
    // Interleaved, so a neighbour's load on a shared machine hits both sides alike.
    spawnSync("sync");
    let start = process.hrtime.bigint();
    await writeDeb({ control: CONTROL, root: tree, mtime: MTIME, compression: c, compressionLevel: level }, kilnOut);
    row.kiln.push(seconds(start));
    spawnSync("sync");
    start = process.hrtime.bigint();
    run("dpkg-deb", ["--root-owner-group", `-Z${DPKG_NAME[c]}`, `-z${level}`, "--build", staging, dpkgOut], env);
    row.dpkg.push(seconds(start));
    progress(`  ${row.label} run ${i + 1}: kiln ${row.kiln[i]!.toFixed(2)} s, dpkg-deb ${row.dpkg[i]!.toFixed(2)} s`);
  }
  row.kilnBytes = statSync(kilnOut).size;
  row.dpkgBytes = statSync(dpkgOut).size;
  // Untimed: dpkg-deb reads kiln's package, data.tar as complete as its own.
  if (!/Package: bench-tree/.test(run("dpkg-deb", ["--info", kilnOut]))) throw new BenchFailed(`dpkg-deb --info ${kilnOut}: no Package field\n`);
  const count = (deb: string) => run("sh", ["-c", 'dpkg-deb --fsys-tarfile "$1" | tar -t | wc -l', "sh", deb]).trim();
  if (count(kilnOut) !== count(dpkgOut)) throw new BenchFailed(`${c}: kiln's data.tar has ${count(kilnOut)} members, dpkg-deb's ${count(dpkgOut)}\n`);
  rmSync(kilnOut);
  rmSync(dpkgOut);
  return row;
}

/** A PackageToWrite (@kiln/package) for the tree, as do_package would hand it to a writer. */
const packageToWrite = (root: string) => ({
  name: "bench-tree",
  pn: "bench-tree",
  data: {},
  root,
  version: { epoch: "", version: "1.0", revision: "r0" },
  arch: "x86_64",
  summary: "files copied from /usr",
  description: "files copied from /usr for a benchmark",
  section: "base",
  license: "MIT",
  homepage: "",
  maintainer: "kiln bench <bench@localhost>",
  priority: "optional",
  depends: { rdepends: [], rrecommends: [], rsuggests: [], rprovides: [], rconflicts: [], rreplaces: [] },
  scripts: {},
  conffiles: [],
  mtime: MTIME,
});

type AnyWriter = (...args: unknown[]) => Promise<unknown>;

/**
 * The other writers, if their plugins exist, called as the plugins call them: ipk's
 * `writeIpkFor(p, dir, d)` (registerPackageWriter's shape; `d` answers only the
 * compression variable), rpm's `writeRpm(spec, out)`. Imported by path at run time:
 * a missing or broken plugin is a printed note, not a failure (they are not what this
 * benchmark is about).
 */
const OTHER_WRITERS: { type: string; module: string; fn: string; compressions: string[]; write: (f: AnyWriter, c: string, tree: string, dir: string) => Promise<string> }[] = [
  {
    type: "ipk",
    module: "plugins/package-ipk/src/index.ts",
    fn: "writeIpkFor",
    compressions: ["xz", "zst"],
    write: async (f, c, tree, dir) => String(await f(packageToWrite(tree), dir, { getVar: (name: string) => (name === "PACKAGE_IPK_COMPRESSION" ? c : undefined) })),
  },
  {
    type: "rpm",
    module: "plugins/package-rpm/src/rpm.ts",
    fn: "writeRpm",
    compressions: ["xz", "zstd"],
    write: async (f, c, tree, dir) => {
      const out = path.join(dir, "bench-tree-1.0-r0.x86_64.rpm");
      const spec = { name: "bench-tree", version: "1.0", release: "r0", arch: "x86_64", summary: "files copied from /usr", description: "files copied from /usr for a benchmark", license: "MIT", buildTime: MTIME, root: tree, compression: c };
      await f(spec, out);
      return out;
    },
  },
];

async function benchOthers(tree: string, dir: string, runs: number, mb: number): Promise<string[]> {
  const lines: string[] = [];
  for (const w of OTHER_WRITERS) {
    const file = path.join(repoRoot, w.module);
    if (!existsSync(file)) {
      lines.push(`${w.type}: skipped, ${w.module} does not exist`);
      continue;
    }
    let f: AnyWriter | undefined;
    try {
      f = ((await import(pathToFileURL(file).href)) as Record<string, unknown>)[w.fn] as AnyWriter | undefined;
    } catch (err) {
      lines.push(`${w.type}: skipped, ${w.module} does not load: ${(err as Error).message.split("\n")[0]}`);
      continue;
    }
    if (typeof f !== "function") {
      lines.push(`${w.type}: skipped, ${w.module} exports no ${w.fn}`);
      continue;
    }
    for (const c of w.compressions) {
      const out = path.join(dir, `${w.type}-${c}`);
      mkdirSync(out, { recursive: true });
      const times: number[] = [];
      try {
        let written = "";
        for (let i = 0; i < runs; i++) {
          const start = process.hrtime.bigint();
          written = await w.write(f, c, tree, out);
          times.push(seconds(start));
        }
        const best = Math.min(...times);
        lines.push(`${w.type} ${c}: ${best.toFixed(2)} s, ${(mb / best).toFixed(1)} MB/s, ${(statSync(written).size / MB).toFixed(2)} MB out (runs: ${times.map((t) => t.toFixed(2)).join(", ")})`);
      } catch (err) {
        lines.push(`${w.type} ${c}: ${w.fn} failed: ${(err as Error).message.split("\n")[0]}`);
      }
      rmSync(out, { recursive: true, force: true });
    }
  }
  return lines;
}

// ---------------------------------------------------------------------------

async function main(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv);
  if (!args) {
    process.stderr.write("usage: tsx bench/package.ts [RUNS] [--mb N] [--zstd-level L] [--only xz|zst]\n");
    return 2;
  }
  const missing = missingTools();
  if (missing.length) {
    process.stderr.write(`missing tools: ${missing.join(", ")}\n`);
    return 1;
  }
  ensureBuilt();
  const { writeDeb } = (await import("../plugins/package-deb/src/deb.js")) as unknown as { writeDeb: WriteDeb };

  return inTempDir("package", async (root) => {
    const tree = path.join(root, "tree");
    progress(`copying about ${args.mb} MB of files into ${tree}`);
    for (const s of SOURCES) copyTree(s.dir, path.join(tree, s.dir), args.mb * MB * s.share);
    const stats = treeStats(tree);
    const mb = stats.bytes / MB;
    // dpkg-deb's copy: hard links (the same inodes, so the same page cache) plus DEBIAN/control.
    const staging = path.join(root, "staging");
    run("cp", ["-al", tree, staging]);
    mkdirSync(path.join(staging, "DEBIAN"));
    writeFileSync(path.join(staging, "DEBIAN", "control"), CONTROL.map(([k, v]) => `${k}: ${v}\n`).join(""));

    const rows: Row[] = [];
    for (const c of args.compressors) {
      progress(`${DPKG_NAME[c]} -${args.levels[c]}, best of ${args.runs}`);
      rows.push(await benchDeb(writeDeb, c, args.levels[c], tree, staging, root, args.runs));
    }
    progress("other writers");
    const others = await benchOthers(tree, root, args.runs, mb);

    const best = (xs: number[]) => Math.min(...xs);
    const header = ["compressor", "kiln s", "kiln MB/s", "dpkg-deb s", "dpkg-deb MB/s", "kiln/dpkg-deb", "target <= 1.0", "kiln MB out", "dpkg-deb MB out"];
    const body = rows.map((r) => {
      const k = best(r.kiln);
      const d = best(r.dpkg);
      return [r.label, k.toFixed(2), (mb / k).toFixed(1), d.toFixed(2), (mb / d).toFixed(1), (k / d).toFixed(3), k <= d ? "ok" : "MISS", (r.kilnBytes / MB).toFixed(2), (r.dpkgBytes / MB).toFixed(2)];
    });
    console.log(`\n.deb of ${mb.toFixed(1)} MB (${stats.files} files, ${stats.links} symlinks), best of ${args.runs}`);
    console.log(`| ${header.join(" | ")} |\n|${header.map(() => " --- ").join("|")}|`);
    for (const b of body) console.log(`| ${b.join(" | ")} |`);
    console.log(`\nall runs (s): ${rows.map((r) => `${r.label} kiln [${r.kiln.map((t) => t.toFixed(2)).join(", ")}] dpkg-deb [${r.dpkg.map((t) => t.toFixed(2)).join(", ")}]`).join("; ")}`);
    console.log(`\nother writers (kiln only, best of ${args.runs}):`);
    for (const l of others) console.log(`  ${l}`);
    console.log(`\n${machine()}; ${run("dpkg-deb", ["--version"]).split("\n")[0]}; ${run("xz", ["--version"]).split("\n")[0]}; ${run("zstd", ["--version"]).trim()}`);
    return 0;
  });
}

if (isMain(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
