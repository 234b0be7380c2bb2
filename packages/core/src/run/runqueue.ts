/**
 * The run queue (BitBake's RunQueueExecuteTasks): runs the tasks of a graph that
 * are not current, at most BB_NUMBER_THREADS at once and at most
 * `[number_threads]` of one task name, longest remaining path first. Without -k
 * the first failure stops new tasks and waits for running ones; with -k every
 * task that does not depend on a failure still runs. An abort (Ctrl-C) stops the
 * running tasks' process groups; unfinished tasks get no stamp.
 */
import type { DataStore } from "../data/datastore.js";
import type { KilnHooks } from "../hooks.js";
import type { TaskGraph, TaskNode } from "../tasks/graph.js";
import type { BuildCompletedEvent } from "./events.js";
import { startTask, taskRef, type TaskRunning } from "./executor.js";
import { fireMetadataHandlers } from "./handlers.js";
import { taskJsApi } from "./js-task.js";
import { currentTasks, removeStamp, StampWriter, stampFile } from "./stamps.js";
import { siginfoPath } from "../sig/siginfo.js";
import { hasSetscene, neededTasks, runScenequeue, setsceneNode, setsceneStampPresent } from "./scenequeue.js";

const words = (v: unknown) => (v === undefined || v === null ? [] : String(v).split(/\s+/).filter(Boolean));

/**
 * BB_SETSCENE_ENFORCE: no real task may run; those that would are errors unless
 * BB_SETSCENE_ENFORCE_IGNORE_TASKS lists them (`pn:do_task`, `%` for any recipe).
 */
function enforceSetscene(d: DataStore, toRun: TaskNode[]): { active: boolean; refused: string[] } {
  const v = d.getVar("BB_SETSCENE_ENFORCE");
  if (!v || v === "0") return { active: false, refused: [] };
  const allowed = words(d.getVar("BB_SETSCENE_ENFORCE_IGNORE_TASKS"));
  const ok = (n: TaskNode) => allowed.some((a) => a === n.id || a === `%:${n.task}`);
  return { active: true, refused: toRun.filter((n) => !n.flags.noexec && !ok(n)).map((n) => n.id) };
}

/** How long tasks get to end after SIGTERM before SIGKILL. */
const KILL_GRACE_MS = 3000;

export interface RunOptions {
  threads: number;
  keepGoing?: boolean;
  /** -f: the target tasks run even when current (and so invalidate what follows them). */
  force?: boolean;
  signal?: AbortSignal;
  /** Environment for shell tasks. */
  env: Record<string, string>;
  targets: string[];
  plugins?: (name: string) => unknown;
  /** --setscene-only: restore what can be restored, run no real task. */
  setsceneOnly?: boolean;
  /** --skip-setscene: run no setscene task (outputs restored before are kept). */
  skipSetscene?: boolean;
}

export interface RunEnvironment {
  hooks: KilnHooks;
  /** The configuration DataStore (build events' handlers). */
  config: DataStore;
  /** Parse (once) the DataStore of a recipe about to run a task. */
  recipeData(node: TaskNode): DataStore;
  /** Write the siginfo of a task that just got its stamp (when signatures are on). */
  writeSiginfo?(node: TaskNode): Promise<void>;
  /** Every task of this recipe that was to run has finished: its parsed data can go. */
  releaseRecipe?(recipe: TaskNode["recipe"]): void;
}

/** Longest path (in tasks) from each task to the end of the graph: the scheduler's priority. */
export function remainingPath(nodes: TaskNode[]): number[] {
  const weight = new Array<number>(nodes.length).fill(1);
  for (let i = nodes.length - 1; i >= 0; i--) {
    for (const d of nodes[i].deps) weight[d] = Math.max(weight[d], weight[i] + 1);
  }
  return weight;
}

/** A binary max-heap of task indexes by priority (ties: graph order). */
class ReadyHeap {
  private items: number[] = [];
  constructor(private readonly prio: number[]) {}
  get size(): number {
    return this.items.length;
  }
  private before(a: number, b: number): boolean {
    return this.prio[a] > this.prio[b] || (this.prio[a] === this.prio[b] && a < b);
  }
  push(x: number): void {
    const h = this.items;
    h.push(x);
    for (let i = h.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!this.before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }
  pop(): number | undefined {
    const h = this.items;
    if (!h.length) return undefined;
    const top = h[0];
    const last = h.pop() as number;
    if (h.length) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.before(h[l], h[m])) m = l;
        if (r < h.length && this.before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

export interface RunPlan {
  /** Tasks that will run, in dependency order. */
  toRun: TaskNode[];
  current: boolean[];
}

/**
 * What a build would run: everything not current. With -f the targets run too, and
 * so does everything after them; `invalidate` also removes their stamps (a real
 * run, not -n), so the next build reruns what follows them.
 */
export function planRun(graph: TaskGraph, force = false, invalidate = false): RunPlan {
  if (force && invalidate) for (const t of graph.targets) removeStamp(t);
  const current = currentTasks(graph.nodes);
  if (force) {
    for (const t of graph.targets) current[t.index] = false;
    for (const n of graph.nodes) if (current[n.index] && n.deps.some((d) => !current[d])) current[n.index] = false;
  }
  return { toRun: graph.nodes.filter((n) => !current[n.index]), current };
}

interface SetscenePhase {
  done: boolean[];
  toRun: TaskNode[];
  setsceneRan: number;
  /** BB_SETSCENE_ENFORCE: tasks that would have had to run for real. */
  refused: string[];
}

/**
 * The scenequeue, then what is left for real tasks: covered and unneeded tasks are
 * done; --setscene-only and BB_SETSCENE_ENFORCE leave nothing to run.
 */
async function setscenePhase(
  graph: TaskGraph,
  env: RunEnvironment,
  options: RunOptions,
  current: boolean[],
  planned: TaskNode[],
  api: ReturnType<typeof taskJsApi>,
  runSetscene: (node: TaskNode) => Promise<boolean>,
): Promise<SetscenePhase> {
  const { nodes } = graph;
  const done = [...current];
  let toRun = planned;
  let setsceneRan = 0;
  if (nodes.some(hasSetscene)) {
    let covered: Set<number>;
    if (options.skipSetscene) {
      covered = new Set(nodes.filter((n) => hasSetscene(n) && setsceneStampPresent(n)).map((n) => n.index));
    } else {
      const result = await runScenequeue(
        graph,
        current,
        { hooks: env.hooks, config: env.config, api, runSetscene },
        { threads: options.threads, signal: options.signal ?? new AbortController().signal },
      );
      covered = result.covered;
      setsceneRan = result.ran;
    }
    const needed = neededTasks(graph, covered);
    for (const n of nodes) if (covered.has(n.index) || !needed[n.index]) done[n.index] = true;
    toRun = nodes.filter((n) => !done[n.index]);
  }
  if (options.setsceneOnly) {
    for (const n of toRun) done[n.index] = true;
    toRun = [];
  }
  const enforced = enforceSetscene(env.config, toRun);
  if (enforced.active) {
    for (const n of toRun) done[n.index] = true;
    toRun = [];
  }
  return { done, toRun, setsceneRan, refused: enforced.refused };
}

export interface DryRunPlan {
  /** Setscene tasks that would restore outputs (ids of their `_setscene` tasks). */
  setscene: string[];
  /** Real tasks that would run, in dependency order. */
  run: TaskNode[];
}

/** -n: what a build would do — setscene restores included — changing nothing. */
export async function dryRun(graph: TaskGraph, env: RunEnvironment, options: Omit<RunOptions, "env" | "targets"> & Partial<RunOptions>): Promise<DryRunPlan> {
  const { current, toRun } = planRun(graph, options.force, false);
  const api = taskJsApi({ note: () => undefined, warn: () => undefined, debug: () => undefined }, options.plugins);
  const setscene: string[] = [];
  const phase = await setscenePhase(graph, env, { env: {}, targets: [], ...options }, current, toRun, api, async (node) => {
    setscene.push(setsceneNode(node).id);
    return true;
  });
  return { setscene: setscene.sort(), run: phase.toRun };
}

export async function runTasks(graph: TaskGraph, env: RunEnvironment, options: RunOptions): Promise<BuildCompletedEvent> {
  const { hooks } = env;
  const started = Date.now();
  const { nodes } = graph;
  const plan = planRun(graph, options.force, true);
  const { current } = plan;
  let toRun = plan.toRun;
  const signal = options.signal ?? new AbortController().signal;
  const api = taskJsApi(
    {
      note: (m) => hooks.log.call({ type: "Log", level: "note", message: m, time: Date.now() }),
      warn: (m) => hooks.log.call({ type: "Log", level: "warn", message: m, time: Date.now() }),
      debug: (m) => hooks.log.call({ type: "Log", level: "debug", message: m, time: Date.now() }),
    },
    options.plugins,
  );

  const buildStarted = {
    type: "BuildStarted" as const,
    targets: options.targets,
    total: nodes.length,
    toRun: toRun.length,
    threads: options.threads,
    time: started,
  };
  hooks.buildStarted.call(buildStarted);
  await fireMetadataHandlers(env.config, buildStarted, api);

  // setscene first: what it covers, and what only covered tasks needed, does not run
  let number = 0;
  const stamps = new StampWriter();
  const phase = await setscenePhase(graph, env, options, current, toRun, api, async (node) => {
    const sq = setsceneNode(node);
    number++;
    const mine = number;
    const handle = startTask(sq, { hooks, env: options.env, signal, plugins: options.plugins, recipeData: env.recipeData }, () => ({
      number: mine,
      // setscene tasks are counted with the real ones: N of M stays N <= M
      toRun: Math.max(mine, toRun.length),
    }));
    try {
      await handle.done;
    } catch {
      hooks.log.call({ type: "Log", level: "warn", message: `Setscene task ${sq.id} failed; the real task ${node.id} will run instead`, time: Date.now() });
      return false;
    }
    await stamps.write(sq);
    hooks.setsceneHit.call(taskRef(node));
    return true;
  });
  const { done, setsceneRan } = phase;
  toRun = phase.toRun;
  const enforced = { refused: phase.refused };
  for (const id of enforced.refused) {
    hooks.log.call({ type: "Log", level: "error", message: `Task ${id} was not restored from shared state but BB_SETSCENE_ENFORCE is set`, time: Date.now() });
  }

  const prio = remainingPath(nodes);
  const waiting = new Array<number>(nodes.length).fill(0);
  const dependents: number[][] = nodes.map(() => []);
  for (const n of nodes) {
    if (done[n.index]) continue;
    for (const d of n.deps) {
      if (done[d]) continue;
      waiting[n.index]++;
      dependents[d].push(n.index);
    }
  }
  const ready = new ReadyHeap(prio);
  for (const n of toRun) if (waiting[n.index] === 0) ready.push(n.index);

  const running = new Map<number, TaskRunning>();
  const runningByName = new Map<string, number>();
  const failedTasks: { id: string; logFile?: string }[] = [];
  const blocked = new Set<number>();
  let succeeded = 0;
  let finished = 0;
  let stopping = false;
  let wake: (() => void) | undefined;

  const onAbort = () => {
    stopping = true;
    for (const r of running.values()) r.kill();
    // what ignores SIGTERM gets SIGKILL a little later
    setTimeout(() => {
      for (const r of running.values()) r.kill("SIGKILL");
    }, KILL_GRACE_MS).unref();
    wake?.();
  };
  signal.addEventListener("abort", onAbort);

  // a recipe's parsed DataStore is dropped after its last task: a smaller process forks faster
  const left = new Map<TaskNode["recipe"], number>();
  for (const n of toRun) left.set(n.recipe, (left.get(n.recipe) ?? 0) + 1);
  const settle = (i: number) => {
    const r = nodes[i].recipe;
    const n = (left.get(r) ?? 1) - 1;
    left.set(r, n);
    if (n === 0) env.releaseRecipe?.(r);
  };
  const complete = (i: number) => {
    settle(i);
    finished++;
    for (const dep of dependents[i]) if (--waiting[dep] === 0 && !blocked.has(dep)) ready.push(dep);
  };
  const block = (i: number) => {
    settle(i);
    const stack = [...dependents[i]];
    while (stack.length) {
      const x = stack.pop() as number;
      if (blocked.has(x)) continue;
      blocked.add(x);
      stack.push(...dependents[x]);
    }
  };
  const limitOf = (n: TaskNode) => {
    const v = Number.parseInt(n.flags.number_threads ?? "", 10);
    return Number.isInteger(v) && v > 0 ? v : Infinity;
  };

  /** The stamp (unless nostamp), then the siginfo beside it. */
  const stamp = async (node: TaskNode) => {
    if (node.flags.nostamp) return;
    await stamps.write(node);
    await env.writeSiginfo?.(node);
    await hooks.taskStamped.promise(taskRef(node), {
      taskhash: node.taskhash ?? "",
      stampFile: stampFile(node),
      ...(env.writeSiginfo ? { siginfoFile: siginfoPath(node) } : {}),
    });
  };
  let settling = 0;

  const launch = () => {
    const deferred: number[] = [];
    while (!stopping && running.size < options.threads && ready.size) {
      const i = ready.pop() as number;
      const node = nodes[i];
      if (node.flags.noexec) {
        // a placeholder: nothing to run, but it is done (and stamped) like any task
        number++;
        settling++;
        stamp(node).then(
          () => {
            settling--;
            succeeded++;
            complete(i);
            wake?.();
          },
          (err: unknown) => {
            settling--;
            hooks.log.call({ type: "Log", level: "error", message: `${node.id}: cannot write its stamp: ${(err as Error).message}`, time: Date.now() });
            failedTasks.push({ id: node.id });
            finished++;
            block(i);
            if (!options.keepGoing) stopping = true;
            wake?.();
          },
        );
        continue;
      }
      const name = node.task;
      if ((runningByName.get(name) ?? 0) >= limitOf(node)) {
        deferred.push(i);
        continue;
      }
      number++;
      const mine = number;
      runningByName.set(name, (runningByName.get(name) ?? 0) + 1);
      let handle: TaskRunning;
      try {
        handle = startTask(node, { hooks, env: options.env, signal, plugins: options.plugins, recipeData: env.recipeData }, () => ({
          number: mine,
          toRun: toRun.length + setsceneRan,
        }));
      } catch (err) {
        // the recipe would not even parse: the task fails without running
        const message = err instanceof Error ? err.message : String(err);
        hooks.taskFailed.call({ type: "TaskFailed", ...taskRef(node), elapsedMs: 0, message, logTail: [], time: Date.now() });
        runningByName.set(name, (runningByName.get(name) ?? 1) - 1);
        failedTasks.push({ id: node.id });
        finished++;
        block(i);
        if (!options.keepGoing) stopping = true;
        continue;
      }
      running.set(i, handle);
      // the stamp is written before dependents may start (their stamps must be newer)
      handle.done.then(() => stamp(node)).then(
        () => {
          running.delete(i);
          runningByName.set(name, (runningByName.get(name) ?? 1) - 1);
          succeeded++;
          complete(i);
          wake?.();
        },
        () => {
          running.delete(i);
          runningByName.set(name, (runningByName.get(name) ?? 1) - 1);
          failedTasks.push({ id: node.id, logFile: handle.logFile || undefined });
          finished++;
          block(i);
          if (!options.keepGoing) stopping = true;
          wake?.();
        },
      );
    }
    for (const i of deferred) ready.push(i);
  };

  try {
    for (;;) {
      launch();
      if (!running.size && !settling) break;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
  }

  const completed: BuildCompletedEvent = {
    type: "BuildCompleted",
    targets: options.targets,
    total: nodes.length,
    current: nodes.length - toRun.length,
    run: succeeded + failedTasks.length,
    succeeded,
    failed: failedTasks.length + enforced.refused.length,
    notRun: toRun.length - finished,
    failedTasks: [...failedTasks, ...enforced.refused.map((id) => ({ id }))],
    interrupted: signal.aborted,
    elapsedMs: Date.now() - started,
    time: Date.now(),
  };
  hooks.buildCompleted.call(completed);
  await fireMetadataHandlers(env.config, completed, api).catch((err) =>
    hooks.log.call({ type: "Log", level: "error", message: `BuildCompleted handler failed: ${(err as Error).message}`, time: Date.now() }),
  );
  return completed;
}
