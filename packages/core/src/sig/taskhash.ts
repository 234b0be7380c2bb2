/**
 * taskhash (DESIGN §5, BitBake's SignatureGeneratorBasicHash.get_taskhash):
 * sha256(basehash, the taskhashes of the tasks it depends on sorted by
 * `recipe:task`, checksums of its files, its taint, plugin inputs). A forced task
 * (`-f`) carries the taint written to `${STAMP}.do_x.taint`; a `nostamp` task a new
 * taint each run, so everything after it reruns. BB_TASKHASH_IGNORE_TASKS (regexes
 * over recipe names) and the `taskDependencyFilter` hook drop dependencies.
 */
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import type { DataStore } from "../data/datastore.js";
import { UsageError } from "../errors.js";
import type { KilnHooks } from "../hooks.js";
import type { TaskGraph, TaskNode } from "../tasks/graph.js";
import { SIGGEN_VERSION, sha256hex } from "./basehash.js";
import { fileChecksum } from "./file-checksums.js";

export type SignatureHandler = "noop" | "basic" | "basichash";

export interface TaskHashInputs {
  basehash: string;
  /** Dependencies whose hash went in, sorted by id, with their taskhash. */
  deps: [string, string][];
  /** Dependencies left out (ignore list / filter hook). */
  droppedDeps: string[];
  files: [string, string | null][];
  taint?: string;
  /** Inputs plugins added (basehashInputs, taskhashInputs, plugin task bodies). */
  extraBasehash: string[];
  extraTaskhash: string[];
}

export function signatureHandler(d: DataStore): SignatureHandler {
  const v = String(d.getVar("BB_SIGNATURE_HANDLER") ?? "basichash");
  if (v === "noop" || v === "basic" || v === "basichash") return v;
  throw new UsageError(`Invalid signature handler '${v}' in BB_SIGNATURE_HANDLER`, { hint: "use noop, basic or basichash" });
}

/** The taint file `-f` writes (BitBake's write_taint). */
export function taintFile(node: Pick<TaskNode, "recipe" | "task">): string {
  return `${node.recipe.stamp}.${node.task}.taint`;
}

/**
 * Taint files present, by stamp directory: listing each directory once is far
 * cheaper than failing to open a file per task (tens of thousands of tasks), and a
 * directory whose parent does not list it is known missing without a system call
 * (most recipes of a large graph have never run).
 */
class TaintReader {
  private readonly listings = new Map<string, Set<string> | null>();
  private list(dir: string): Set<string> | null {
    let names = this.listings.get(dir);
    if (names !== undefined) return names;
    const parent = dirname(dir);
    const parentNames = parent !== dir && this.listings.has(parent) ? this.listings.get(parent) : undefined;
    if (parentNames === null || (parentNames && !parentNames.has(basename(dir)))) names = null;
    else {
      try {
        names = new Set(readdirSync(dir));
      } catch {
        names = null;
      }
    }
    this.listings.set(dir, names);
    return names;
  }
  /** Per recipe (its STAMP): the names of taint files of its stamp directory, or null. */
  private readonly byStamp = new Map<string, Set<string> | null>();
  read(node: TaskNode): string | undefined {
    const stamp = node.recipe.stamp;
    let names = this.byStamp.get(stamp);
    if (names === undefined) {
      const dir = dirname(stamp);
      // the stamps root and the directories above the recipe's first: their listings
      // let the recipes that never ran skip their own
      this.list(dirname(dirname(dir)));
      this.list(dirname(dir));
      names = this.list(dir);
      this.byStamp.set(stamp, names);
    }
    const file = taintFile(node);
    if (!names?.has(basename(file))) return undefined;
    try {
      return readFileSync(file, "utf8").trim() || undefined;
    } catch {
      return undefined;
    }
  }
}

export function newTaint(): string {
  return randomUUID();
}

function ignoreTasksRegex(d: DataStore): RegExp | null {
  const v = String(d.getVar("BB_TASKHASH_IGNORE_TASKS") ?? "").trim();
  if (!v) return null;
  try {
    return new RegExp(v.split(/\s+/).join("|"));
  } catch (err) {
    throw new UsageError(`BB_TASKHASH_IGNORE_TASKS is not a valid regular expression: ${(err as Error).message}`);
  }
}

/** What a plugin-supplied body adds: which plugins tap it and a hash of their code (once per task name). */
function pluginBodyInputs(hooks: KilnHooks, task: string, cache: Map<string, string[]>): string[] {
  let inputs = cache.get(task);
  if (!inputs) {
    inputs = hooks.taskFunction.for(task).taps.map((t) => `${t.name}:${sha256hex(String(t.fn))}`);
    cache.set(task, inputs);
  }
  return inputs;
}

export interface HashOptions {
  /** In-memory taints for this run (a dry run's -f), by node index. */
  taints?: Map<number, string>;
}

/** Compute basehash/taskhash of every node of a graph (in dependency order). */
/** Shared by every node with nothing there (a large graph has hundreds of thousands). */
const NONE: never[] = [];

/** Compute basehash/taskhash of every node of a graph (in dependency order). */
export function computeTaskhashes(graph: TaskGraph, d: DataStore, hooks: KilnHooks, options: HashOptions = {}): SignatureHandler {
  const handler = signatureHandler(d);
  const ignore = ignoreTasksRegex(d);
  const taints = new TaintReader();
  const bodies = new Map<string, string[]>();
  // hooks nobody taps are not called (per node and per dependency, that adds up)
  const basehashHook = hooks.basehashInputs.isUsed();
  const filterHook = hooks.taskDependencyFilter.isUsed();
  const taskhashHook = hooks.taskhashInputs.isUsed();
  for (const node of graph.nodes) {
    if (handler === "noop") {
      node.basehash = node.taskhash = "";
      node.stampHash = undefined;
      continue;
    }
    const ref = { id: node.id, pn: node.recipe.pn, task: node.task, file: node.recipe.file };
    let basehash = node.recipe.basehashes?.[node.task] ?? "";
    const body = pluginBodyInputs(hooks, node.task, bodies);
    const extraBasehash = basehashHook ? [...hooks.basehashInputs.call([], ref, node.recipe), ...body] : body;
    if (extraBasehash.length) basehash = sha256hex([basehash, ...extraBasehash].join("\u0000"));

    const deps: [string, string][] = [];
    let droppedDeps: string[] = NONE;
    const ignoring = ignore !== null && !ignore.test(node.recipe.pn);
    for (const i of node.deps) {
      const dep = graph.nodes[i];
      const keep = !(ignoring && ignore.test(dep.recipe.pn)) && !(filterHook && hooks.taskDependencyFilter.call(ref, { id: dep.id, pn: dep.recipe.pn, task: dep.task, file: dep.recipe.file }) === false);
      if (keep) deps.push([dep.id, dep.taskhash ?? ""]);
      else (droppedDeps === NONE ? (droppedDeps = []) : droppedDeps).push(dep.id);
    }
    if (deps.length > 1) deps.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const checksums = node.recipe.checksumFiles?.[node.task];
    const files = checksums?.length ? checksums.map((f) => [f.name, fileChecksum(f.path)] as [string, string | null]) : (NONE as [string, string | null][]);
    const taint = options.taints?.get(node.index) ?? (node.flags.nostamp ? `nostamp:${newTaint()}` : taints.read(node));
    const extraTaskhash = taskhashHook ? hooks.taskhashInputs.call([], ref, node.recipe) : (NONE as string[]);

    let text = `${SIGGEN_VERSION}\u0000${basehash}`;
    for (const [id, dh] of deps) text += `\u0000${id}\u0000${dh}`;
    for (const [name, cs] of files) text += `\u0000${name}\u0000${cs ?? "absent"}`;
    if (taint) text += `\u0000taint\u0000${taint}`;
    for (const x of extraTaskhash) text += `\u0000${x}`;
    node.basehash = basehash;
    node.taskhash = sha256hex(text);
    node.stampHash = handler === "basichash" ? node.taskhash : undefined;
    node.hashInputs = { basehash, deps, droppedDeps, files, taint, extraBasehash, extraTaskhash };
  }
  return handler;
}
