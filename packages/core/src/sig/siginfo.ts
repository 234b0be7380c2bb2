/**
 * Siginfo: what went into a task's signature, written beside its stamp as
 * `${STAMP}.do_x.sigdata.<taskhash>` (gzip-compressed JSON) so `diffsigs` can say
 * what changed between two runs. Written to a temp name and renamed.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { writeAtomicSync } from "../run/fs-small.js";
import { basename, dirname, join, relative, resolve } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import type { DataStore } from "../data/datastore.js";
import { KilnError, NotFoundError } from "../errors.js";
import type { TaskGraph, TaskNode } from "../tasks/graph.js";
import { SIGGEN_VERSION, type BasehashDetails } from "./basehash.js";

export interface Siginfo {
  version: string;
  id: string;
  pn: string;
  task: string;
  handler: string;
  basehash: string;
  taskhash: string;
  basehashIgnoreVars: string[];
  taskhashIgnoreTasks: string;
  /** Variables and functions the task depends on, sorted. */
  taskdeps: string[];
  gendeps: Record<string, string[]>;
  varvals: Record<string, string | null>;
  /** Which of those are functions (their changes are shown as diffs). */
  functions: string[];
  /** Dependency tasks whose hashes went in, by id, and their hashes. */
  runtaskdeps: string[];
  runtaskhashes: Record<string, string>;
  /** Where each dependency's siginfo is, relative to this file's directory (so a moved tree still resolves). */
  runtaskSiginfo: Record<string, string>;
  fileChecksums: [string, string | null][];
  taint?: string;
  extraBasehash: string[];
  extraTaskhash: string[];
  /** Where this siginfo was read from or will be written (not stored). */
  path?: string;
}

const words = (v: unknown) => (v === undefined || v === null ? [] : String(v).split(/\s+/).filter(Boolean));

export function siginfoPath(node: Pick<TaskNode, "recipe" | "task" | "taskhash">): string {
  return `${node.recipe.stamp}.${node.task}.sigdata.${node.taskhash ?? ""}`;
}

export function buildSiginfo(node: TaskNode, graph: TaskGraph, details: BasehashDetails | undefined, d: DataStore, handler: string): Siginfo {
  const inputs = node.hashInputs;
  const runtaskhashes: Record<string, string> = {};
  const runtaskSiginfo: Record<string, string> = {};
  const byId = new Map(node.deps.map((i) => [graph.nodes[i].id, graph.nodes[i]]));
  for (const [id, h] of inputs?.deps ?? []) {
    runtaskhashes[id] = h;
    const dep = byId.get(id);
    if (dep) runtaskSiginfo[id] = relative(dirname(siginfoPath(node)), siginfoPath(dep));
  }
  const varvals = details?.varvals ?? {};
  return {
    version: SIGGEN_VERSION,
    id: node.id,
    pn: node.recipe.pn,
    task: node.task,
    handler,
    basehash: node.basehash ?? "",
    taskhash: node.taskhash ?? "",
    basehashIgnoreVars: words(d.getVar("BB_BASEHASH_IGNORE_VARS")).sort(),
    taskhashIgnoreTasks: String(d.getVar("BB_TASKHASH_IGNORE_TASKS") ?? ""),
    taskdeps: details?.taskdeps ?? [],
    gendeps: details?.gendeps ?? {},
    varvals,
    functions: Object.keys(varvals).filter((k) => !!d.getVarFlag(k, "func", false)).sort(),
    runtaskdeps: (inputs?.deps ?? []).map(([id]) => id),
    runtaskhashes,
    runtaskSiginfo,
    fileChecksums: inputs?.files ?? [],
    ...(inputs?.taint ? { taint: inputs.taint } : {}),
    extraBasehash: inputs?.extraBasehash ?? [],
    extraTaskhash: inputs?.extraTaskhash ?? [],
    path: siginfoPath(node),
  };
}

/** The siginfo file of dependency `id` as `sig` recorded it, if it is there. */
export function dependencySiginfoPath(sig: Siginfo, id: string): string | undefined {
  const rel = sig.runtaskSiginfo[id];
  if (!rel || !sig.path) return undefined;
  return resolve(dirname(sig.path), rel);
}

export async function writeSiginfo(path: string, sig: Siginfo): Promise<void> {
  const { path: _where, ...stored } = sig;
  // written for every task that runs, read only to explain a rerun: gzip's fastest level
  // (a fraction of a ms each for a few KB of JSON; level 6 took 2-3x that)
  writeAtomicSync(path, gzipSync(JSON.stringify(stored), { level: 1 }));
}

export function readSiginfo(path: string): Siginfo {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch {
    throw new NotFoundError(`No siginfo file at ${path}`);
  }
  try {
    const sig = JSON.parse(gunzipSync(raw).toString("utf8")) as Siginfo;
    checkShape(sig);
    return { ...sig, path };
  } catch (err) {
    throw new KilnError("PARSE_ERROR", `${path} is not a kiln siginfo file: ${(err as Error).message}`);
  }
}

const STRINGS = ["version", "id", "pn", "task", "basehash", "taskhash"] as const;
const ARRAYS = ["basehashIgnoreVars", "taskdeps", "functions", "runtaskdeps", "fileChecksums", "extraBasehash", "extraTaskhash"] as const;
const OBJECTS = ["gendeps", "varvals", "runtaskhashes", "runtaskSiginfo"] as const;

/** Every field the explanations read, of the right kind (a wrong file fails here, not mid-comparison). */
function checkShape(sig: unknown): asserts sig is Siginfo {
  if (typeof sig !== "object" || sig === null || Array.isArray(sig)) throw new Error("not a siginfo object");
  const o = sig as Record<string, unknown>;
  for (const k of STRINGS) if (typeof o[k] !== "string") throw new Error(`field '${k}' is missing or not a string`);
  for (const k of ARRAYS) if (!Array.isArray(o[k])) throw new Error(`field '${k}' is missing or not a list`);
  for (const k of OBJECTS) if (typeof o[k] !== "object" || o[k] === null || Array.isArray(o[k])) throw new Error(`field '${k}' is missing or not an object`);
}

/** Siginfo files of one task (any hash), newest first. */
export function findSiginfos(stamp: string, task: string): string[] {
  const dir = dirname(stamp);
  const prefix = `${basename(stamp)}.${task}.sigdata.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith(prefix) && !n.includes(".tmp."))
    .map((n) => join(dir, n))
    .map((p) => [p, statSync(p).mtimeMs] as const)
    .sort((a, b) => b[1] - a[1])
    .map(([p]) => p);
}
