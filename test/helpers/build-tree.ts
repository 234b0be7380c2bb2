/**
 * End-to-end test helpers: a temporary build directory with one layer of its own
 * (`meta-t`), TMPDIR inside the temp tree, the CLI run in process, and readers for
 * what tasks record about themselves. KILN_KEEP_TMP=1 keeps the tree.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { clearFileCache } from "@kiln/core";
import { main } from "@kiln/cli";

/** A small, fixed environment: nothing of the caller's TMPDIR, BB_* or MACHINE leaks in. */
export const ENV: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root" };

export interface CliResult {
  code: number;
  out: string;
  err: string;
  /** stdout and stderr together. */
  all: string;
}

export interface BuildTree {
  root: string;
  /** The build directory (TOPDIR). */
  build: string;
  path(rel: string): string;
  write(rel: string, text: string): string;
  /** Write `meta-t/recipes/<name>` (e.g. "a_1.0.bb"). */
  recipe(file: string, text: string): string;
  read(rel: string): string;
  exists(rel: string): boolean;
  /** Lines of a record file under the build dir (missing file: no lines). */
  lines(rel: string): string[];
  /** `kiln ARGS` in process, in the build directory. */
  kiln(args: string[]): Promise<CliResult>;
  /** `kiln getvar VAR -r RECIPE --value`. */
  getvar(name: string, recipe: string): Promise<string>;
  remove(): void;
}

export interface BuildTreeOptions {
  /** Extra lines for conf/local.conf. */
  local?: string;
  /** Extra files, relative to the tree's root. */
  files?: Record<string, string>;
}

export function buildTree(options: BuildTreeOptions = {}): BuildTree {
  const root = mkdtempSync(join(tmpdir(), "kiln-run-"));
  const build = join(root, "build");
  const write = (rel: string, text: string) => {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
    return p;
  };
  write("build/conf/bblayers.conf", `BBPATH = "\${TOPDIR}"\nBBFILES ?= ""\nBBLAYERS = "\${TOPDIR}/../meta-t"\n`);
  write(
    "build/conf/local.conf",
    `TMPDIR = "\${TOPDIR}/tmp"\nRECORD = "\${TOPDIR}/record"\n${options.local ?? ""}\n`,
  );
  write(
    "meta-t/conf/layer.conf",
    `BBPATH .= ":\${LAYERDIR}"\nBBFILES += "\${LAYERDIR}/recipes/*.bb"\n` +
      `BBFILE_COLLECTIONS += "t"\nBBFILE_PATTERN_t = "^\${LAYERDIR}/"\nBBFILE_PRIORITY_t = "5"\n`,
  );
  for (const [rel, text] of Object.entries(options.files ?? {})) write(rel, text);

  const tree: BuildTree = {
    root,
    build,
    path: (rel) => join(build, rel),
    write,
    recipe: (file, text) => write(`meta-t/recipes/${file}`, text),
    read: (rel) => readFileSync(join(build, rel), "utf8"),
    exists: (rel) => existsSync(join(build, rel)),
    lines(rel) {
      const p = join(build, rel);
      if (!existsSync(p)) return [];
      return readFileSync(p, "utf8").split("\n").filter(Boolean);
    },
    async kiln(args) {
      clearFileCache();
      let out = "";
      let err = "";
      let all = "";
      const code = await main(args, {
        cwd: build,
        // as from a shell in the build directory
        env: { ...ENV, PWD: build },
        io: {
          out: (t) => {
            out += t;
            all += t;
          },
          err: (t) => {
            err += t;
            all += t;
          },
        },
      });
      return { code, out, err, all };
    },
    async getvar(name, recipe) {
      const r = await tree.kiln(["getvar", name, "-r", recipe, "--value"]);
      if (r.code !== 0) throw new Error(`getvar ${name} -r ${recipe} failed: ${r.err}`);
      return r.out.trimEnd();
    },
    remove() {
      if (!process.env.KILN_KEEP_TMP) rmSync(root, { recursive: true, force: true });
    },
  };
  return tree;
}

/** Intervals recorded by tasks as `start|end NAME NANOSECONDS` lines. */
export interface Interval {
  name: string;
  start: bigint;
  end: bigint;
}

export function intervals(lines: string[]): Interval[] {
  const open = new Map<string, bigint>();
  const out: Interval[] = [];
  for (const line of lines) {
    const [what, name, ns] = line.split(" ");
    if (what === "start") open.set(name, BigInt(ns));
    else if (what === "end") {
      const start = open.get(name);
      if (start === undefined) throw new Error(`end without start for ${name}`);
      out.push({ name, start, end: BigInt(ns) });
    }
  }
  return out;
}

/** The largest number of intervals open at one instant. */
export function maxOverlap(list: Interval[]): number {
  const points: [bigint, number][] = [];
  for (const i of list) points.push([i.start, 1], [i.end, -1]);
  // at equal times, close before open: touching intervals do not overlap
  points.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
  let now = 0;
  let max = 0;
  for (const [, delta] of points) {
    now += delta;
    max = Math.max(max, now);
  }
  return max;
}

/** Shell lines a task uses to record its interval: `start NAME ns` ... `end NAME ns`. */
export function timed(name: string, file: string, body: string): string {
  return `\techo "start ${name} $(date +%s%N)" >> ${file}\n${body}\n\techo "end ${name} $(date +%s%N)" >> ${file}\n`;
}

/** Is a process still alive (a zombie counts as gone)? */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

export async function waitFor(cond: () => boolean, timeoutMs: number, stepMs = 25): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return cond();
}

/**
 * Whether a task has a stamp: `${STAMP}.do_x` itself or `${STAMP}.do_x.<taskhash>`
 * (the basichash signature handler puts the hash in the name); siginfo and taint
 * files beside it do not count.
 */
export function hasStamp(base: string): boolean {
  return stampFiles(base).length > 0;
}

export function stampFiles(base: string): string[] {
  const dir = dirname(base);
  const name = base.slice(dir.length + 1);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f === name || (f.startsWith(`${name}.`) && /^[0-9a-f]{64}$/.test(f.slice(name.length + 1))))
    .map((f) => join(dir, f));
}

/** Delete a task's stamps (whatever hash they carry). */
export function removeStamps(base: string): void {
  for (const f of stampFiles(base)) rmSync(f);
}
