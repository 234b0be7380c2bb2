/**
 * Fetch benchmark: how fast `kiln --runall=fetch world` downloads remote SRC_URI
 * files from a local HTTP server into a cold DL_DIR, beside `curl` fetching the same
 * files one after the other in the same run.
 *
 * Usage:  tsx bench/fetch.ts [N]          (default: 200 files of 1 MB)
 *
 * 1. Makes N files of 1 MB (10^6 bytes) of pseudo-random bytes from a fixed xorshift32
 *    PRNG (`xorshift32` of bench/gen-layer.ts, fixed seed), so they are the same on
 *    every run, and serves them from memory with a Node HTTP server on 127.0.0.1
 *    (port 0, keep-alive on), as /f001.bin ... The server counts requests and TCP
 *    connections.
 * 2. Writes a build directory (conf/bblayers.conf, conf/local.conf with
 *    BB_NUMBER_THREADS = "2" and DL_DIR = "${TOPDIR}/downloads") and a layer with N
 *    recipes f001_1.0.bb ..., each only
 *        SRC_URI = "http://127.0.0.1:PORT/fNNN.bin"
 *        SRC_URI[sha256sum] = "<sum>"
 *    Everything else comes from kiln's base class.
 * 3. With downloads/, tmp/ and cache/ deleted, runs
 *    `node packages/cli/bin/kiln.js --runall=fetch world --json` with the build dir
 *    as cwd and BBPATH, once, and times it from spawn to exit (process start-up and
 *    the cold parse included). BuildCompleted.elapsedMs is kiln's own time for the
 *    build, without start-up and parse. kiln loads the http fetcher plugin by default.
 * 4. Checks, untimed, that every file is in DL_DIR with its `.done` marker and the
 *    right sha256, and that the server saw exactly one GET per file.
 * 5. If `curl` is on PATH: `curl -s -o FILE URL` for the N files in sequence, one
 *    process per file, into a fresh dir, timed from the first spawn to the last exit;
 *    then the same content check.
 *
 * Prints MB/s (10^6 bytes) for kiln (from the wall time and from the build time) and
 * for curl, and kiln MB/s / curl MB/s (above 1, kiln is faster). There is no target
 * in the issue; nothing is failed for speed. Exit 1 only when something does not work:
 * kiln exits non-zero, fails a task or prints no BuildCompleted event, a file is
 * missing or wrong, or a curl fails.
 *
 * Builds the packages first (`npx tsc -b packages/core plugins/... packages/cli`, as
 * `pnpm build`) when a dist is missing.
 * Env: TMPDIR picks where the build dir is written; KILN_KEEP_TMP=1 keeps it.
 */
import { BenchFailed, inTempDir, isMain, machine, progress } from "./common.js";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_SEED, xorshift32 } from "./gen-layer.js";
import { runKiln, type Tally } from "./run.js";

const DEFAULT_FILES = 200;
/** 1 MB per file; MB/s uses the same 10^6 bytes. */
const FILE_BYTES = 1_000_000;
const THREADS = 2;
const KILN_ARGS = ["--runall=fetch", "world", "--json"] as const;

/** How much of kiln's stderr is kept (the end of it) to show when it fails. */

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const kilnBin = path.join(repoRoot, "packages", "cli", "bin", "kiln.js");
/** Packages the CLI loads, in build order (the root package.json's `build` script). */
const PACKAGES = [
  "packages/core",
  "plugins/sstate",
  "plugins/fetch-file",
  "plugins/fetch-http",
  "plugins/mirrors",
  "plugins/fetch-git",
  "packages/cli",
] as const;


/** Something did not work (kiln, a check, curl); carries what to show the user. */

function parseArgs(argv: readonly string[]): number | undefined {
  if (argv.length === 0) return DEFAULT_FILES;
  if (argv.length !== 1 || !/^\d+$/.test(argv[0]!)) return undefined;
  const n = Number(argv[0]);
  return Number.isSafeInteger(n) && n >= 1 ? n : undefined;
}

/** Build every package the CLI loads when one of their dists is missing (as `pnpm build`). */
function ensureBuilt(): boolean {
  const missing = PACKAGES.filter((p) => !existsSync(path.join(repoRoot, p, "dist", p === "packages/cli" ? "main.js" : "index.js")));
  if (missing.length === 0) return true;
  progress(`${missing.map((p) => `${p}/dist`).join(", ")} missing: building`);
  const result = spawnSync("npx", ["tsc", "-b", ...PACKAGES], { cwd: repoRoot, stdio: ["ignore", 2, 2] });
  if (result.error) progress(`could not run npx tsc: ${result.error.message}`);
  return result.status === 0;
}

function hasCommand(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

/** The environment of kiln and curl: ours without proxies, so 127.0.0.1 is reached directly. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const key of Object.keys(env)) {
    if (/^(http|https|all|ftp)_proxy$/i.test(key)) delete env[key];
  }
  env["no_proxy"] = env["NO_PROXY"] = "127.0.0.1,localhost";
  return env;
}

const sha256 = (data: Buffer): string => createHash("sha256").update(data).digest("hex");

// ---------------------------------------------------------------------------
// Files and server

interface Served {
  name: string;
  body: Buffer;
  sum: string;
}

/** N files of FILE_BYTES pseudo-random bytes (4 per PRNG step), the same on every run. */
function makeFiles(n: number): Served[] {
  const next = xorshift32(DEFAULT_SEED);
  const width = Math.max(3, String(n).length);
  const files: Served[] = [];
  for (let i = 1; i <= n; i++) {
    const words = new Uint32Array(Math.ceil(FILE_BYTES / 4));
    for (let w = 0; w < words.length; w++) words[w] = next();
    const body = Buffer.from(words.buffer, 0, FILE_BYTES);
    files.push({ name: `f${String(i).padStart(width, "0")}`, body, sum: sha256(body) });
  }
  return files;
}

interface ServerStats {
  /** GET requests per path. */
  gets: Map<string, number>;
  requests: number;
  connections: number;
  notFound: number;
}

function newStats(): ServerStats {
  return { gets: new Map(), requests: 0, connections: 0, notFound: 0 };
}

async function startServer(files: readonly Served[]): Promise<{ server: Server; port: number; stats: () => ServerStats; reset: () => void }> {
  const byPath = new Map(files.map((f) => [`/${f.name}.bin`, f.body]));
  let stats = newStats();
  const server = createServer((req, res) => {
    stats.requests++;
    const url = req.url ?? "";
    if (req.method === "GET") stats.gets.set(url, (stats.gets.get(url) ?? 0) + 1);
    const body = byPath.get(url);
    if (!body || (req.method !== "GET" && req.method !== "HEAD")) {
      stats.notFound++;
      res.writeHead(404, { "content-length": 0 }).end();
      return;
    }
    res.writeHead(200, { "content-length": body.length, "content-type": "application/octet-stream" });
    res.end(req.method === "HEAD" ? undefined : body);
  });
  server.on("connection", () => stats.connections++);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    stats: () => stats,
    reset: () => {
      stats = newStats();
    },
  };
}

async function stopServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

// ---------------------------------------------------------------------------
// Build directory

function write(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

/** root/build (the build dir, returned) and root/meta-fetch (the layer of N recipes). */
function writeBuildDir(root: string, files: readonly Served[], port: number): string {
  const build = path.join(root, "build");
  const layer = path.join(root, "meta-fetch");
  write(path.join(build, "conf", "bblayers.conf"), `BBPATH = "\${TOPDIR}"\nBBLAYERS = "${layer}"\n`);
  write(
    path.join(build, "conf", "local.conf"),
    `MACHINE = "m1"\nBB_NUMBER_THREADS = "${THREADS}"\nDL_DIR = "\${TOPDIR}/downloads"\n`,
  );
  write(
    path.join(layer, "conf", "layer.conf"),
    `BBPATH .= ":\${LAYERDIR}"\nBBFILES += "\${LAYERDIR}/recipes/*.bb"\nBBFILE_COLLECTIONS += "fetch"\n` +
      `BBFILE_PATTERN_fetch = "^\${LAYERDIR}/"\nBBFILE_PRIORITY_fetch = "5"\n`,
  );
  for (const f of files) {
    write(
      path.join(layer, "recipes", `${f.name}_1.0.bb`),
      `SRC_URI = "http://127.0.0.1:${port}/${f.name}.bin"\nSRC_URI[sha256sum] = "${f.sum}"\n`,
    );
  }
  return build;
}

// ---------------------------------------------------------------------------
// kiln

interface KilnRun {
  seconds: number;
  tally: Tally;
}


/** One `kiln --runall=fetch world --json` in `dir`; stdout is folded into a Tally as it arrives. */
/** One `kiln --runall=fetch world --json` in `dir` (bench/run.ts's runner, with this bench's arguments). */
async function runFetch(dir: string): Promise<KilnRun> {
  const r = await runKiln(dir, "fetch", kilnBin, KILN_ARGS, childEnv({ BBPATH: dir }));
  return { seconds: r.seconds, tally: r.tally };
}

// ---------------------------------------------------------------------------
// curl

/** `curl -s -o FILE URL` for every file, one after the other; wall seconds of the whole loop. */
async function runCurl(files: readonly Served[], port: number, outDir: string): Promise<number> {
  mkdirSync(outDir, { recursive: true });
  const env = childEnv();
  // Async spawns: the server runs in this process and must keep answering.
  const start = process.hrtime.bigint();
  for (const f of files) {
    const url = `http://127.0.0.1:${port}/${f.name}.bin`;
    const args = ["-s", "-o", path.join(outDir, `${f.name}.bin`), url];
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      let err = "";
      const child = spawn("curl", args, { env, stdio: ["ignore", "ignore", "pipe"] });
      child.stderr.setEncoding("utf8");
      child.stderr.on("data", (chunk: string) => (err += chunk));
      child.once("error", reject);
      child.once("close", (c) => resolve({ code: c, stderr: err }));
    });
    if (code !== 0) throw new BenchFailed(`curl ${args.join(" ")} exited with code ${code}\n${stderr}`);
  }
  return Number(process.hrtime.bigint() - start) / 1e9;
}

// ---------------------------------------------------------------------------
// Checks

/** Problems with `dir` holding every file (name.bin, right bytes), with name.bin.done when `done`. */
function checkFiles(dir: string, files: readonly Served[], done: boolean): string[] {
  const problems: string[] = [];
  for (const f of files) {
    const file = path.join(dir, `${f.name}.bin`);
    if (!existsSync(file)) problems.push(`${file} is missing`);
    else if (sha256(readFileSync(file)) !== f.sum) problems.push(`${file} has the wrong content`);
    if (done && !existsSync(`${file}.done`)) problems.push(`${file}.done is missing`);
  }
  return problems;
}

/** Problems with the server having seen exactly one GET of each file and nothing else. */
function checkGets(stats: ServerStats, files: readonly Served[], who: string): string[] {
  const problems: string[] = [];
  for (const f of files) {
    const count = stats.gets.get(`/${f.name}.bin`) ?? 0;
    if (count !== 1) problems.push(`${who}: the server saw ${count} GETs of /${f.name}.bin, expected 1`);
  }
  if (stats.notFound > 0) problems.push(`${who}: the server answered ${stats.notFound} request(s) with 404`);
  return problems.slice(0, 10);
}

// ---------------------------------------------------------------------------
// Report

interface Row {
  label: string;
  seconds: number;
  what: string;
}

function formatTable(rows: readonly Row[], megabytes: number, curl: Row | undefined): string {
  const header = ["run", "s", "MB/s", "vs curl", "what the time covers"];
  const body = rows.map((row) => {
    const rate = megabytes / row.seconds;
    const vs = curl === undefined || row === curl ? "-" : `${(rate / (megabytes / curl.seconds)).toFixed(2)}x`;
    return [row.label, row.seconds.toFixed(3), rate.toFixed(1), vs, row.what];
  });
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((cells) => cells[c]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, c) => (c === 0 || c === cells.length - 1 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

async function bench(n: number, root: string, withCurl: boolean): Promise<string[]> {
  const notes: string[] = [];
  const megabytes = (n * FILE_BYTES) / 1e6;
  let t = Date.now();
  const files = makeFiles(n);
  progress(`  ${n} files of ${FILE_BYTES} bytes made in ${((Date.now() - t) / 1000).toFixed(2)} s`);
  const { server, port, stats, reset } = await startServer(files);
  try {
    const build = writeBuildDir(root, files, port);
    progress(`  server on 127.0.0.1:${port}; build dir ${build}`);

    // One request before timing, so neither tool pays for the server's first one.
    const warm = await fetch(`http://127.0.0.1:${port}/${files[0]!.name}.bin`);
    await warm.arrayBuffer();
    reset();

    const downloads = path.join(build, "downloads");
    for (const sub of ["downloads", "tmp", "cache"]) rmSync(path.join(build, sub), { recursive: true, force: true });
    progress(`  kiln ${KILN_ARGS.join(" ")} (cold DL_DIR, tmp/ and cache/) ...`);
    const kiln = await runFetch(build);
    const kilnStats = stats();
    const completed = kiln.tally.completed!;
    const threads = kiln.tally.started?.threads;
    const buildSeconds = completed.elapsedMs / 1000;
    progress(
      `  kiln: ${kiln.seconds.toFixed(3)} s wall, build ${buildSeconds.toFixed(3)} s, ${kiln.tally.succeeded} tasks, ` +
        `summed task ${(kiln.tally.summedTaskMs / 1000).toFixed(3)} s, ${threads ?? "?"} thread(s), ` +
        `${kilnStats.requests} requests on ${kilnStats.connections} connection(s)`,
    );

    t = Date.now();
    const problems = [...checkFiles(downloads, files, true), ...checkGets(kilnStats, files, "kiln")];
    progress(`  checked DL_DIR in ${((Date.now() - t) / 1000).toFixed(2)} s`);
    if (problems.length > 0) {
      throw new BenchFailed(`kiln's downloads are wrong:\n  ${problems.slice(0, 20).join("\n  ")}\n`);
    }
    const expectedNames = new Set(files.flatMap((f) => [`${f.name}.bin`, `${f.name}.bin.done`]));
    const extra = readdirSync(downloads).filter((name) => !expectedNames.has(name));
    if (extra.length > 0) {
      const lockOnly = extra.every((name) => name.endsWith(".lock"));
      notes.push(
        `DL_DIR also holds ${extra.length} other entr${extra.length === 1 ? "y" : "ies"}` +
          (lockOnly ? " (lock files)" : `, e.g. ${extra.slice(0, 3).join(", ")}`),
      );
    }
    if (kiln.tally.succeeded !== n) notes.push(`kiln ran ${kiln.tally.succeeded} tasks, expected ${n} (one do_fetch per recipe)`);
    if (threads !== THREADS) notes.push(`BuildStarted.threads is ${threads ?? "missing"}, expected ${THREADS}`);
    if (kiln.tally.warnings + kiln.tally.errors > 0) {
      notes.push(`the build logged ${kiln.tally.warnings} warning(s) and ${kiln.tally.errors} error(s)`);
    }
    if (kiln.tally.strayLines > 0) {
      notes.push(`${kiln.tally.strayLines} stdout line(s) of kiln were not JSON events, first: ${kiln.tally.firstStray}`);
    }

    const rows: Row[] = [
      { label: "kiln total", seconds: kiln.seconds, what: "wall clock of the process: start-up, cold parse, fetch" },
      { label: "kiln build", seconds: buildSeconds, what: "BuildCompleted.elapsedMs: the build alone" },
    ];
    let curlRow: Row | undefined;
    let curlStats: ServerStats | undefined;
    if (withCurl) {
      reset();
      const outDir = path.join(root, "curl");
      progress(`  curl -s -o FILE URL x ${n}, in sequence ...`);
      const seconds = await runCurl(files, port, outDir);
      curlStats = stats();
      progress(`  curl: ${seconds.toFixed(3)} s wall, ${curlStats.requests} requests on ${curlStats.connections} connection(s)`);
      const curlProblems = [...checkFiles(outDir, files, false), ...checkGets(curlStats, files, "curl")];
      if (curlProblems.length > 0) {
        throw new BenchFailed(`curl's downloads are wrong:\n  ${curlProblems.slice(0, 20).join("\n  ")}\n`);
      }
      curlRow = { label: "curl", seconds, what: `${n} \`curl -s -o FILE URL\` processes, one after the other` };
      rows.push(curlRow);
    }

    const out: string[] = [];
    out.push(
      `${n} files x ${FILE_BYTES / 1e6} MB = ${megabytes} MB from 127.0.0.1, cold DL_DIR, ` +
        `BB_NUMBER_THREADS = "${THREADS}"; MB = 10^6 bytes`,
      "",
      formatTable(rows, megabytes, curlRow),
      "",
      `vs curl = the row's MB/s / curl's MB/s: above 1, kiln is faster.`,
      `kiln: ${kiln.tally.succeeded} tasks (${threads ?? "?"} threads), summed task time ` +
        `${(kiln.tally.summedTaskMs / 1000).toFixed(3)} s (${(kiln.tally.summedTaskMs / Math.max(1, kiln.tally.succeeded)).toFixed(1)} ms per task); ` +
        `server: ${kilnStats.requests} requests on ${kilnStats.connections} connection(s).`,
    );
    if (curlStats !== undefined) {
      out.push(`curl: server: ${curlStats.requests} requests on ${curlStats.connections} connection(s).`);
    } else {
      out.push(`curl: not on PATH, skipped (no baseline).`);
    }
    out.push(`checked: all ${n} files in DL_DIR with their .done markers and the right sha256` + (curlStats ? `; curl's too.` : "."));
    out.push(...notes.map((note) => `note: ${note}`));
    return out;
  } finally {
    await stopServer(server);
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const n = parseArgs(argv);
  if (n === undefined) {
    process.stderr.write(`usage: tsx bench/fetch.ts [N]   (number of 1 MB files, default ${DEFAULT_FILES})\n`);
    return 2;
  }
  if (!ensureBuilt()) {
    process.stderr.write("building the packages failed (npx tsc -b ...)\n");
    return 1;
  }
  const withCurl = hasCommand("curl");
  if (!withCurl) progress("curl is not on PATH: the curl baseline is skipped");

  return inTempDir("fetch", async (root, keep) => {
    progress(
      `kiln fetch benchmark: ${machine()}, ` +
        `${n} files of 1 MB, dir ${root}`,
    );
    const lines = await bench(n, root, withCurl);
    process.stdout.write("\n" + lines.join("\n") + "\n");
    return 0;
  });
}

if (isMain(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
