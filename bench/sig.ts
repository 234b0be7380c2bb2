/**
 * Signature benchmark: how long it takes to compute the taskhash of every task of a
 * synthetic layer (`world`), cold (no parse cache: every recipe is parsed and its
 * basehashes computed) and from the parse cache.
 *
 * Usage:  tsx bench/sig.ts [N...]          (default: 5000)
 *
 * For each N: write the layer of bench/gen-layer.ts into a fresh temp dir, then run a
 * small script in a new `node` process, with cwd = that dir and BBPATH = that dir. It
 * imports the compiled core (packages/core/dist/index.js), runs
 * `new Kiln({ cwd, env }).parseAll()` and `taskGraph({ targets: ["world"] })`, and
 * prints one JSON line: the task count, its own timings and a sha256 of the sorted
 * `id=taskhash` list. A new process per run keeps module loading and the per-process
 * file cache from leaking from one measurement into the next. Each run is also timed
 * from outside, spawn to exit:
 *
 *   cold   RUNS times, cache/ and tmp/ deleted before each run
 *   warm   RUNS more times, with the parse cache the cold runs left
 *
 * Prints a table and the target (5000 recipes: taskhashes < 1 s from the
 * cache, checked against the warm process wall time); a missed target is reported, not
 * failed. Every run must give the same taskhashes: a difference between runs (cold vs
 * warm above all) is a correctness bug, is reported loudly with the tasks that differ,
 * and makes the script exit 1. It also exits 1 when the script in the child fails,
 * when a recipe fails to parse, or when a task of the graph has no taskhash.
 *
 * Builds core and cli first (`npx tsc -b packages/core packages/cli`) if their dist
 * is missing. Env: TMPDIR picks where layers are written; KILN_KEEP_TMP=1 keeps them.
 */
import { BenchFailed, inTempDir, machine, progress } from "./common.js";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { generateLayer } from "./gen-layer.js";

const DEFAULT_SIZES = [5000] as const;
const RUNS = 3;
/** Tasks per synthetic recipe: fetch, unpack, configure, compile, install, package, build. */
const TASKS_PER_RECIPE = 7;
const TARGETS = ["world"] as const;

/** The target the issue sets. */
const TARGET = { recipes: 5000, warmSeconds: 1 } as const;

/** How many differing tasks to print when the hashes of two runs differ. */
const SHOW_DIFFS = 20;

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const coreIndex = path.join(repoRoot, "packages", "core", "dist", "index.js");
const cliMain = path.join(repoRoot, "packages", "cli", "dist", "main.js");

/**
 * The script each measured process runs (written to the temp dir as CHILD_FILE).
 * argv: core index URL, layer dir, JSON targets, and optionally a file to write the
 * sorted `id=taskhash` lines to (only for the diagnosis after a mismatch: it is not
 * part of a measured run). `performance.now()` counts from the process's start, so
 * `totalMs` includes node's own start-up.
 */
const CHILD_SCRIPT = `import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
const [coreUrl, dir, targetsJson, dumpFile] = process.argv.slice(2);
const t0 = performance.now();
const { Kiln } = await import(coreUrl);
const tImport = performance.now();
const kiln = new Kiln({ cwd: dir, env: process.env });
const parsed = await kiln.parseAll();
const tParse = performance.now();
const graph = await kiln.taskGraph({ targets: JSON.parse(targetsJson) }, parsed);
const tGraph = performance.now();
const lines = [];
let missing = 0;
for (const node of graph.nodes) {
  if (typeof node.taskhash !== "string" || node.taskhash === "") missing++;
  lines.push(node.id + "=" + node.taskhash);
}
lines.sort();
const ids = new Set(graph.nodes.map((node) => node.id));
if (dumpFile) writeFileSync(dumpFile, lines.join("\\n") + "\\n");
const result = {
  tasks: graph.nodes.length,
  parseMs: tParse - tImport,
  graphMs: tGraph - tParse,
  totalMs: tGraph,
  startMs: t0,
  importMs: tImport - t0,
  missing,
  duplicateIds: graph.nodes.length - ids.size,
  digest: createHash("sha256").update(lines.join("\\n")).digest("hex"),
  stats: parsed.stats,
  parseErrors: parsed.errors.slice(0, 5),
  graphWarnings: graph.warnings.length,
};
process.stdout.write(JSON.stringify(result) + "\\n", () => process.exit(0));
`;
const CHILD_FILE = "sig-child.mjs";

/** What the child prints. */
interface ChildResult {
  tasks: number;
  /** parseAll() */
  parseMs: number;
  /** taskGraph(world) with the parse result: graph, basehashes of cached recipes, taskhashes */
  graphMs: number;
  /** process start to the end of taskGraph (node start-up and module loading included) */
  totalMs: number;
  /** node start-up, before the script's first line */
  startMs: number;
  /** import of the core */
  importMs: number;
  /** tasks without a taskhash */
  missing: number;
  duplicateIds: number;
  /** sha256 of the sorted `id=taskhash` lines */
  digest: string;
  stats: { recipes: number; parsed: number; cached: number; skipped: number; errors: number };
  parseErrors: { file: string; message: string }[];
  graphWarnings: number;
}

interface Run extends ChildResult {
  /** Wall-clock seconds around the whole process, from outside. */
  seconds: number;
}

interface Row {
  n: number;
  cold: Run[];
  warm: Run[];
  notes: string[];
  /** Empty when every run gave the same taskhashes; else what to print. */
  mismatch: string[];
}

/** The child failed, or the layer did not parse; carries what to show the user. */

function parseSizes(argv: readonly string[]): number[] | undefined {
  if (argv.length === 0) return [...DEFAULT_SIZES];
  const sizes: number[] = [];
  for (const arg of argv) {
    if (!/^\d+$/.test(arg)) return undefined;
    const n = Number(arg);
    if (!Number.isSafeInteger(n) || n < 1) return undefined;
    sizes.push(n);
  }
  return sizes;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}


/** Build core and cli when their output is missing (as `pnpm build` would). */
function ensureBuilt(): boolean {
  if (existsSync(coreIndex) && existsSync(cliMain)) return true;
  progress(`${path.relative(repoRoot, coreIndex)} or ${path.relative(repoRoot, cliMain)} is missing: building`);
  const result = spawnSync("npx", ["tsc", "-b", "packages/core", "packages/cli"], {
    cwd: repoRoot,
    stdio: ["ignore", 2, 2],
  });
  if (result.error) progress(`could not run npx tsc: ${result.error.message}`);
  return result.status === 0 && existsSync(coreIndex);
}

/** One measured process in `dir`. */
function runChild(dir: string, childFile: string, label: string, dumpFile?: string): Run {
  const args = [childFile, pathToFileURL(coreIndex).href, dir, JSON.stringify(TARGETS)];
  if (dumpFile !== undefined) args.push(dumpFile);
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, {
    cwd: dir,
    env: { ...process.env, BBPATH: dir },
    stdio: ["ignore", "pipe", "pipe"],
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const stderr = result.stderr?.trimEnd() ?? "";
  if (result.error) throw new BenchFailed(`could not run node ${childFile}: ${result.error.message}\n`);
  if (result.status !== 0) {
    const how = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.status}`;
    throw new BenchFailed(
      `${label}: the signature script ${how} (cwd ${dir})\n` +
        (stderr ? `--- stderr ---\n${stderr}\n` : "--- stderr is empty ---\n"),
    );
  }
  const line = result.stdout.trim().split("\n").at(-1) ?? "";
  let parsed: ChildResult;
  try {
    parsed = JSON.parse(line) as ChildResult;
  } catch {
    throw new BenchFailed(`${label}: the signature script printed no JSON result (cwd ${dir}): ${line.slice(0, 200)}\n`);
  }
  if (parsed.stats.errors > 0) {
    const shown = parsed.parseErrors.map((e) => `  ${e.file}: ${e.message}`).join("\n");
    throw new BenchFailed(`${label}: ${parsed.stats.errors} recipe(s) failed to parse (cwd ${dir})\n${shown}\n`);
  }
  return { ...parsed, seconds };
}

function describe(run: Run): string {
  const s = (ms: number): string => (ms / 1000).toFixed(3);
  return (
    `${run.seconds.toFixed(3)} s wall; in process: start ${s(run.startMs)} + import ${s(run.importMs)} + ` +
    `parse ${s(run.parseMs)} + graph ${s(run.graphMs)} = ${s(run.totalMs)} s; ` +
    `${run.tasks} tasks, ${run.stats.parsed} parsed, ${run.stats.cached} from cache`
  );
}

function clearCaches(dir: string): void {
  rmSync(path.join(dir, "cache"), { recursive: true, force: true });
  rmSync(path.join(dir, "tmp"), { recursive: true, force: true });
}

/** Map of `id=taskhash` lines from a dump file, by id. */
function readDump(file: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (line === "") continue;
    const eq = line.lastIndexOf("=");
    out.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return out;
}

/**
 * After a mismatch: one more cold run and one warm run, each writing its hashes out,
 * and the tasks whose hashes differ between the two.
 */
function diagnose(dir: string, childFile: string, n: number): string[] {
  const coldFile = path.join(path.dirname(dir), `n${n}-cold.hashes`);
  const warmFile = path.join(path.dirname(dir), `n${n}-warm.hashes`);
  clearCaches(dir);
  runChild(dir, childFile, "diagnosis cold", coldFile);
  runChild(dir, childFile, "diagnosis warm", warmFile);
  const cold = readDump(coldFile);
  const warm = readDump(warmFile);
  const diffs: string[] = [];
  for (const id of new Set([...cold.keys(), ...warm.keys()])) {
    const a = cold.get(id);
    const b = warm.get(id);
    if (a !== b) diffs.push(`  ${id}: cold ${a ?? "(no task)"}  warm ${b ?? "(no task)"}`);
  }
  if (diffs.length === 0) {
    return [`one more cold and warm run gave identical hashes: the difference is not reproducible every time`];
  }
  return [
    `one more cold and warm run: ${diffs.length} task(s) differ` +
      (diffs.length > SHOW_DIFFS ? `, first ${SHOW_DIFFS}:` : ":"),
    ...diffs.sort().slice(0, SHOW_DIFFS),
    `(all hashes: ${coldFile} and ${warmFile})`,
  ];
}

function benchOne(n: number, root: string, childFile: string): Row {
  const dir = path.join(root, `n${n}`);
  const { edges } = generateLayer(n, dir);
  progress(`N=${n}: layer with ${edges} DEPENDS edges in ${dir}`);
  const notes: string[] = [];

  const cold: Run[] = [];
  for (let r = 1; r <= RUNS; r++) {
    clearCaches(dir);
    const run = runChild(dir, childFile, `N=${n} cold ${r}/${RUNS}`);
    cold.push(run);
    progress(`  cold ${r}/${RUNS}: ${describe(run)}`);
  }
  if (!existsSync(path.join(dir, "cache"))) {
    notes.push(`N=${n}: kiln wrote no ${path.join(dir, "cache")}; the warm runs are not cache hits`);
  }
  const warm: Run[] = [];
  for (let r = 1; r <= RUNS; r++) {
    const run = runChild(dir, childFile, `N=${n} warm ${r}/${RUNS}`);
    warm.push(run);
    progress(`  warm ${r}/${RUNS}: ${describe(run)}`);
  }

  const all = [...cold, ...warm];
  const expected = n * TASKS_PER_RECIPE;
  if (all.some((run) => run.tasks !== expected)) {
    notes.push(`N=${n}: the graph has ${all.map((run) => run.tasks).join("/")} tasks, expected ${expected}`);
  }
  if (warm.some((run) => run.stats.parsed !== 0)) {
    notes.push(`N=${n}: warm runs parsed ${warm.map((run) => run.stats.parsed).join("/")} recipes; expected 0 (all from cache)`);
  }
  if (all.some((run) => run.graphWarnings > 0)) {
    notes.push(`N=${n}: the graph had ${all.map((run) => run.graphWarnings).join("/")} warning(s)`);
  }

  const mismatch: string[] = [];
  const missing = all.map((run) => run.missing);
  if (missing.some((m) => m > 0)) {
    mismatch.push(`N=${n}: tasks without a taskhash in each run (cold, then warm): ${missing.join("/")}`);
  }
  const dups = all.map((run) => run.duplicateIds);
  if (dups.some((d) => d > 0)) {
    mismatch.push(`N=${n}: duplicate task ids in each run (cold, then warm): ${dups.join("/")}`);
  }
  const digests = new Set(all.map((run) => run.digest));
  if (digests.size > 1) {
    mismatch.push(
      `N=${n}: the taskhashes differ between runs:`,
      ...cold.map((run, i) => `  cold ${i + 1}: ${run.digest}`),
      ...warm.map((run, i) => `  warm ${i + 1}: ${run.digest}`),
    );
    progress(`  MISMATCH: taskhashes differ between runs; diagnosing`);
    mismatch.push(...diagnose(dir, childFile, n).map((line) => `  ${line}`));
  }
  return { n, cold, warm, notes, mismatch };
}

function warmMiss(row: Row): boolean {
  return row.n === TARGET.recipes && median(row.warm.map((run) => run.seconds)) >= TARGET.warmSeconds;
}

const inProcess = (run: Run): number => (run.parseMs + run.graphMs) / 1000;

function formatTable(rows: readonly Row[]): string {
  const header = ["N", "tasks hashed", "cold s", "cold p+g s", "warm s", "warm p+g s", "target warm"];
  const body = rows.map((row) => {
    const hashed = row.cold.concat(row.warm).map((run) => run.tasks - run.missing);
    return [
      String(row.n),
      hashed.every((h) => h === hashed[0]) ? String(hashed[0]) : hashed.join("/"),
      median(row.cold.map((run) => run.seconds)).toFixed(3),
      median(row.cold.map(inProcess)).toFixed(3),
      median(row.warm.map((run) => run.seconds)).toFixed(3),
      median(row.warm.map(inProcess)).toFixed(3),
      row.n === TARGET.recipes ? `< ${TARGET.warmSeconds} s ${warmMiss(row) ? "MISS" : "ok"}` : "-",
    ];
  });
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((cells) => cells[c]!.length)));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ");
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

function summary(rows: readonly Row[]): string {
  const out: string[] = [];
  for (const row of rows) {
    if (row.mismatch.length === 0) {
      const run = row.cold[0]!;
      out.push(
        `taskhashes N=${row.n}: identical in all ${row.cold.length} cold and ${row.warm.length} warm runs ` +
          `(${run.tasks} tasks, sha256 of sorted id=taskhash ${run.digest.slice(0, 16)}…)`,
      );
    } else {
      out.push(`!!! TASKHASH MISMATCH (correctness bug) !!!`, ...row.mismatch);
    }
  }
  for (const row of rows) {
    if (warmMiss(row)) {
      out.push(
        `MISS: N=${row.n}: taskhashes from the parse cache took ` +
          `${median(row.warm.map((run) => run.seconds)).toFixed(3)} s (process wall), target < ${TARGET.warmSeconds} s`,
      );
    }
    out.push(...row.notes.map((note) => `note: ${note}`));
  }
  if (!rows.some((row) => row.n === TARGET.recipes)) {
    out.push(`(the target is for N=${TARGET.recipes}, which was not run)`);
  }
  return out.join("\n") + "\n";
}

async function main(argv: readonly string[]): Promise<number> {
  const sizes = parseSizes(argv);
  if (sizes === undefined) {
    process.stderr.write("usage: tsx bench/sig.ts [N...]   (recipe counts, default 5000)\n");
    return 2;
  }
  if (!ensureBuilt()) {
    process.stderr.write(`${coreIndex} is missing and the build failed\n`);
    return 1;
  }

  return inTempDir("sig", async (root, keep) => {
    const childFile = path.join(root, CHILD_FILE);
    writeFileSync(childFile, CHILD_SCRIPT);
    progress(
      `kiln signature benchmark: ${machine()}, ` +
        `${RUNS} cold + ${RUNS} warm runs of parseAll + taskGraph(${TARGETS.join(" ")}) each, layers in ${root}`,
    );
    const rows: Row[] = [];
    for (const n of sizes) rows.push(benchOne(n, root, childFile));
    const bad = rows.some((row) => row.mismatch.length > 0);
    process.stdout.write(
      "\n" +
        formatTable(rows) +
        `\n\ncold s / warm s = median of ${RUNS} wall-clock runs of a new node process (start-up and ` +
        `module loading included); cold = cache/ and tmp/ deleted before each run, warm = from the parse cache.\n` +
        `p+g s = median of parseAll + taskGraph(${TARGETS.join(" ")}) as timed inside that process.\n` +
        `target (issue): ${TARGET.recipes} recipes, taskhashes from the cache < ${TARGET.warmSeconds} s ` +
        `(checked against warm s).\n` +
        summary(rows),
    );
    if (bad && !keep) progress(`(set KILN_KEEP_TMP=1 to keep the layers and hash lists)`);
    return bad ? 1 : 0;
  });
}

process.exitCode = await main(process.argv.slice(2));
