/**
 * Parse benchmark: how long `kiln -p` takes to parse every recipe of a synthetic
 * layer, cold (no parse cache) and warm (cache present), timed the way
 * `bitbake -p` would be timed on the same layer.
 *
 * Usage:  tsx bench/parse.ts [N...]        (default: 1000 5000)
 *
 * For each N: write the layer of bench/gen-layer.ts into a fresh temp dir, then run
 * `node packages/cli/bin/kiln.js -p` with cwd = that dir and BBPATH = that dir,
 * RUNS times cold (cache/ and tmp/ deleted before each run) and RUNS times warm.
 * The time is wall-clock around the whole process, start-up included, as `time
 * bitbake -p` measures. Prints the median and best of each and the targets;
 * a missed target is reported, not failed. Exit 1 only when kiln itself fails.
 *
 * Env: TMPDIR picks where layers are written; KILN_KEEP_TMP=1 keeps them.
 */
import { BenchFailed, inTempDir, machine, progress } from "./common.js";
import { spawnSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { generateLayer } from "./gen-layer.js";

const DEFAULT_SIZES = [1000, 5000] as const;
const RUNS = 3;

/** The targets the issue sets, for a 5000-recipe layer. */
const TARGET = { recipes: 5000, coldSeconds: 2, warmSeconds: 0.3 } as const;

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const kilnBin = path.join(repoRoot, "packages", "cli", "bin", "kiln.js");
const kilnMain = path.join(repoRoot, "packages", "cli", "dist", "main.js");

interface Timing {
  /** seconds of each run, in run order */
  runs: number[];
  median: number;
  best: number;
}

interface Row {
  n: number;
  cold: Timing;
  warm: Timing;
}

/** kiln exited non-zero or could not be started; carries what to show the user. */
class KilnFailed extends BenchFailed {}

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

function summarize(runs: number[]): Timing {
  const sorted = [...runs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { runs, median, best: sorted[0]! };
}

function lastLine(text: string): string {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  return lines.at(-1) ?? "";
}

/** One `kiln -p` in `dir`; returns wall-clock seconds. */
function runKiln(dir: string): { seconds: number; stdout: string } {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, [kilnBin, "-p"], {
    cwd: dir,
    env: { ...process.env, BBPATH: dir },
    stdio: ["ignore", "pipe", "pipe"],
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (result.error) {
    throw new KilnFailed(`could not run ${kilnBin}: ${result.error.message}`);
  }
  if (result.status !== 0) {
    const how = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.status}`;
    const stderr = result.stderr.trimEnd();
    const stdout = result.stdout.trimEnd();
    throw new KilnFailed(
      `kiln -p ${how} (cwd ${dir})\n` +
        (stderr ? `--- stderr ---\n${stderr}\n` : "--- stderr is empty ---\n") +
        (stderr || !stdout ? "" : `--- stdout ---\n${stdout}\n`),
    );
  }
  return { seconds, stdout: result.stdout };
}


function benchOne(n: number, root: string): Row {
  const dir = path.join(root, `n${n}`);
  const { edges } = generateLayer(n, dir);
  progress(`N=${n}: layer with ${edges} DEPENDS edges in ${dir}`);
  const cacheDir = path.join(dir, "cache");
  const tmpDir = path.join(dir, "tmp");

  const cold: number[] = [];
  for (let r = 1; r <= RUNS; r++) {
    rmSync(cacheDir, { recursive: true, force: true });
    rmSync(tmpDir, { recursive: true, force: true });
    const { seconds, stdout } = runKiln(dir);
    cold.push(seconds);
    progress(`  cold ${r}/${RUNS}: ${seconds.toFixed(3)} s   ${lastLine(stdout)}`);
  }
  if (!existsSync(cacheDir)) {
    progress(`  note: kiln wrote no ${cacheDir}; the warm runs below are not cache hits`);
  }
  const warm: number[] = [];
  for (let r = 1; r <= RUNS; r++) {
    const { seconds, stdout } = runKiln(dir);
    warm.push(seconds);
    progress(`  warm ${r}/${RUNS}: ${seconds.toFixed(3)} s   ${lastLine(stdout)}`);
  }
  return { n, cold: summarize(cold), warm: summarize(warm) };
}

function formatTable(rows: readonly Row[]): string {
  const header = [
    "N",
    "cold s",
    "cold best",
    "cold rec/s",
    "warm s",
    "warm best",
    "warm rec/s",
    "target cold",
    "target warm",
  ];
  const body = rows.map((row) => {
    const atTarget = row.n === TARGET.recipes;
    return [
      String(row.n),
      row.cold.median.toFixed(3),
      row.cold.best.toFixed(3),
      Math.round(row.n / row.cold.median).toString(),
      row.warm.median.toFixed(3),
      row.warm.best.toFixed(3),
      Math.round(row.n / row.warm.median).toString(),
      atTarget ? `< ${TARGET.coldSeconds} s` : "-",
      atTarget ? `< ${TARGET.warmSeconds} s` : "-",
    ];
  });
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((cells) => cells[c]!.length)));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ");
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

async function main(argv: readonly string[]): Promise<number> {
  const sizes = parseSizes(argv);
  if (sizes === undefined) {
    process.stderr.write("usage: tsx bench/parse.ts [N...]   (recipe counts, default 1000 5000)\n");
    return 2;
  }
  if (!existsSync(kilnMain)) {
    process.stderr.write(`${kilnMain} is missing: build the CLI first (pnpm build)\n`);
    return 1;
  }

  return inTempDir("parse", async (root, keep) => {
    progress(
      `kiln parse benchmark: ${machine()}, ` +
        `${RUNS} runs each, layers in ${root}`,
    );
    const rows: Row[] = [];
    for (const n of sizes) rows.push(benchOne(n, root));
    process.stdout.write(
      "\n" +
        formatTable(rows) +
        `\n\ns = median of ${RUNS} wall-clock runs of \`kiln -p\` (process start-up included); ` +
        `rec/s from the median; cold = cache/ and tmp/ deleted before each run.\n` +
        `targets (issue): ${TARGET.recipes} recipes cold < ${TARGET.coldSeconds} s, warm < ${TARGET.warmSeconds} s.\n`,
    );
    return 0;
  });
}

process.exitCode = await main(process.argv.slice(2));
