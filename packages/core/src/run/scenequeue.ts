/**
 * The scenequeue (BitBake's setscene phase): before real tasks run, tasks that
 * have a `do_x_setscene` variant may be *accelerated* — restored from shared state
 * instead of built. Availability comes from BB_HASHCHECK_FUNCTION (a jsdef in the
 * configuration) and the `checkHashes` hook. Setscene tasks are decided from the
 * top of the graph down: one is skipped when every setscene task above it is
 * covered and BB_SETSCENE_DEPVALID (or the `setsceneDepValid` hook) says they do
 * not need it; otherwise it runs when its object exists; a failed or missing one
 * leaves its real task to run. Tasks reached from an end of the graph through
 * tasks without setscene variants are never skipped (BitBake's "unskippable").
 */
import type { DataStore } from "../data/datastore.js";
import type { KilnHooks } from "../hooks.js";
import type { KilnJsApi } from "../js/kiln-api.js";
import type { TaskGraph, TaskNode } from "../tasks/graph.js";
import { runJsFunction } from "./js-task.js";
import { stampTime } from "./stamps.js";

/** What the hash check sees of each setscene candidate. */
export interface SetsceneCandidate {
  pn: string;
  task: string;
  taskhash: string;
  unihash: string;
  file: string;
  /** The recipe's index entry (its `indexVars` hold what plugins asked for, e.g. SSTATE_PKGSPEC). */
  recipe: TaskNode["recipe"];
}

export interface ScenequeueOptions {
  threads: number;
  signal: AbortSignal;
}

export interface ScenequeueEnvironment {
  hooks: KilnHooks;
  config: DataStore;
  api: KilnJsApi;
  /** Run a setscene task; true when it restored the output. */
  runSetscene(node: TaskNode): Promise<boolean>;
}

export interface ScenequeueResult {
  /** Tasks whose real task need not run (restored, already restored, or not needed). */
  covered: Set<number>;
  /** Setscene tasks skipped because nothing needs them. */
  notNeeded: Set<number>;
  ran: number;
  failed: number;
}

/** The `do_x_setscene` task of a recipe as a node of its own (its stamp carries the real task's hash). */
export function setsceneNode(node: TaskNode): TaskNode {
  const task = `${node.task}_setscene`;
  const info = node.recipe.tasks.find((t) => t.name === task);
  return { ...node, task, id: `${node.recipe.pn}:${task}`, flags: info?.flags ?? {}, deps: [] };
}

export function hasSetscene(node: TaskNode): boolean {
  const name = `${node.task}_setscene`;
  return node.recipe.tasks.some((t) => t.name === name);
}

/** A setscene stamp for the task's current hash: its output was restored before. */
export function setsceneStampPresent(node: TaskNode): boolean {
  return stampTime(setsceneNode(node)) !== undefined;
}

/** A Map that also reads as a plain object (`deps[id]`, `for (id in deps)`), for ported BitBake functions. */
function mapAndObject<V>(entries: [string, V][]): Map<string, V> & Record<string, V> {
  const m = new Map(entries) as Map<string, V> & Record<string, V>;
  for (const [k, v] of entries) Object.defineProperty(m, k, { value: v, enumerable: true });
  return m;
}

async function availableObjects(graph: TaskGraph, candidates: number[], env: ScenequeueEnvironment): Promise<Set<string>> {
  const sqData = new Map<string, SetsceneCandidate>();
  for (const i of candidates) {
    const n = graph.nodes[i];
    sqData.set(n.id, { pn: n.recipe.pn, task: n.task, taskhash: n.taskhash ?? "", unihash: n.taskhash ?? "", file: n.recipe.file, recipe: n.recipe });
  }
  let found = new Set<string>();
  const fn = env.config.getVar("BB_HASHCHECK_FUNCTION");
  if (fn) {
    const result = await runJsFunction(env.config, String(fn), env.api, undefined, [sqData, env.config]);
    if (result instanceof Set || Array.isArray(result)) found = new Set([...result].map(String));
  }
  return env.hooks.checkHashes.promise(found, sqData);
}

export async function runScenequeue(graph: TaskGraph, current: boolean[], env: ScenequeueEnvironment, options: ScenequeueOptions): Promise<ScenequeueResult> {
  const { nodes } = graph;
  const candidate = nodes.map((n) => hasSetscene(n));
  const dependents: number[][] = nodes.map(() => []);
  for (const n of nodes) for (const d of n.deps) dependents[d].push(n.index);

  // setscene tasks above each candidate (through tasks without setscene variants), and
  // whether an end of the graph reaches it that way
  const revdeps = new Map<number, Set<number>>();
  const unskippable = new Set<number>();
  const targets = new Set(graph.targets.map((t) => t.index));
  for (let x = 0; x < nodes.length; x++) {
    if (!candidate[x]) continue;
    const above = new Set<number>();
    if (!dependents[x].length || targets.has(x)) unskippable.add(x);
    const seen = new Set<number>();
    const stack = [...dependents[x]];
    while (stack.length) {
      const d = stack.pop() as number;
      if (seen.has(d)) continue;
      seen.add(d);
      if (candidate[d]) above.add(d);
      else if (!dependents[d].length) unskippable.add(x);
      else stack.push(...dependents[d]);
    }
    revdeps.set(x, above);
  }

  const covered = new Set<number>();
  const notNeeded = new Set<number>();
  const list = [...revdeps.keys()];
  const restoredBefore = new Set(list.filter((i) => current[i] || setsceneStampPresent(nodes[i])));
  const valid = await availableObjects(graph, list.filter((i) => !restoredBefore.has(i)), env);

  const depvalidName = env.config.getVar("BB_SETSCENE_DEPVALID");
  const depValid = async (x: number, above: Set<number>): Promise<boolean> => {
    const entries: [string, [string, string, string]][] = [x, ...above].map((i) => [nodes[i].id, [nodes[i].recipe.pn, nodes[i].task, nodes[i].recipe.file]]);
    const taskDeps = mapAndObject(entries);
    const notNeededIds = new Set([...notNeeded].map((i) => nodes[i].id));
    const hooked = env.hooks.setsceneDepValid.call(nodes[x].id, taskDeps, notNeededIds);
    if (hooked !== undefined) return hooked;
    if (!depvalidName) return false;
    return !!(await runJsFunction(env.config, String(depvalidName), env.api, undefined, [nodes[x].id, taskDeps, notNeededIds, env.config]));
  };

  // decided from the top down: a candidate waits until every candidate above it is decided
  const waiting = new Map(list.map((x) => [x, (revdeps.get(x) as Set<number>).size]));
  const below = new Map<number, number[]>(list.map((x) => [x, []]));
  for (const [x, above] of revdeps) for (const a of above) (below.get(a) as number[]).push(x);
  let ran = 0;
  let failed = 0;
  const ready = list.filter((x) => waiting.get(x) === 0).sort((a, b) => b - a);
  const running = new Set<Promise<void>>();

  const decided = (x: number) => {
    for (const b of below.get(x) as number[]) {
      const left = (waiting.get(b) as number) - 1;
      waiting.set(b, left);
      if (left === 0) ready.push(b);
    }
  };

  const decide = async (x: number): Promise<void> => {
    const above = revdeps.get(x) as Set<number>;
    if (restoredBefore.has(x)) {
      covered.add(x);
    } else if (!unskippable.has(x) && above.size && [...above].every((a) => covered.has(a)) && (await depValid(x, above))) {
      covered.add(x);
      notNeeded.add(x);
    } else if (valid.has(nodes[x].id) && !options.signal.aborted) {
      ran++;
      const ok = await env.runSetscene(nodes[x]).catch(() => false);
      if (ok) covered.add(x);
      else failed++;
    }
    decided(x);
  };

  while (ready.length || running.size) {
    while (ready.length && running.size < options.threads) {
      const x = ready.shift() as number;
      const p: Promise<void> = decide(x).finally(() => running.delete(p));
      running.add(p);
    }
    if (running.size) await Promise.race(running);
  }
  return { covered, notNeeded, ran, failed };
}

/**
 * Which tasks must really run once the scenequeue is done: every setscene candidate
 * that was not covered (as BitBake, whose uncovered setscene tasks always run their
 * real task), every end of the graph, and what those reach without passing through
 * a covered task (a covered task's dependencies are only needed when something else
 * needs them).
 */
export function neededTasks(graph: TaskGraph, covered: Set<number>): boolean[] {
  const { nodes } = graph;
  const needed = new Array<boolean>(nodes.length).fill(false);
  const hasDependents = new Array<boolean>(nodes.length).fill(false);
  for (const n of nodes) for (const d of n.deps) hasDependents[d] = true;
  const stack: number[] = [];
  for (const n of nodes) {
    if (!hasDependents[n.index] || graph.targets.includes(n) || (hasSetscene(n) && !covered.has(n.index))) stack.push(n.index);
  }
  while (stack.length) {
    const i = stack.pop() as number;
    if (needed[i] || covered.has(i)) continue;
    needed[i] = true;
    for (const d of nodes[i].deps) if (!needed[d]) stack.push(d);
  }
  return needed;
}
