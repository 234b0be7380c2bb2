/**
 * One task's life cycle (BitBake's _exec_task; CONVENTIONS 16): log file and
 * symlink, TaskStarted, `taskPre` taps, `[prefuncs]`, the body (a plugin's
 * `taskFunction` or the metadata function, shell or JS), `[postfuncs]`,
 * `taskPost` taps, then TaskSucceeded or TaskFailed. Stamps are the run queue's.
 */
import { appendFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { ensureDir, replaceSymlinkSync } from "./fs-small.js";
import { join } from "node:path";
import type { DataStore } from "../data/datastore.js";
import { expandKeys } from "../data/expand-keys.js";
import { KilnError, TaskError } from "../errors.js";
import type { KilnHooks, TaskContext } from "../hooks.js";
import type { KilnJsApi } from "../js/kiln-api.js";
import type { TaskNode } from "../tasks/graph.js";
import type { LogEvent, TaskRef } from "./events.js";
import { fireMetadataHandlers } from "./handlers.js";
import { runJsFunction, taskJsApi } from "./js-task.js";
import { withLocks } from "./locks.js";
import { runShell, type ShellRun } from "./shell.js";
import { cleanSources, fetchSources } from "../fetch/download.js";
import { unpackSources } from "../fetch/unpack.js";
import { patchSources } from "../fetch/patch.js";

/** The base class's shell logging commands and the log level each is shown at. */
const SHELL_MESSAGE_LEVELS: Record<string, LogEvent["level"]> = {
  bbplain: "plain",
  bbnote: "note",
  bbverbnote: "note",
  bbwarn: "warn",
  bberror: "error",
  bbfatal: "error",
  bbfatal_log: "error",
  bbdebug: "debug",
};

/** The umask kiln started with: shell tasks without [umask] or BB_DEFAULT_UMASK get it explicitly (see runJsWithUmask). */
const STARTING_UMASK = process.umask();
const octal = (mask: number) => mask.toString(8).padStart(3, "0");

/** JS tasks with [umask] take turns: the mask is process-wide. */
let umaskTurn: Promise<void> = Promise.resolve();
async function runJsWithUmask<T>(mask: string | undefined, fn: () => Promise<T>): Promise<T> {
  // kiln's own mask needs no turn (the usual BB_DEFAULT_UMASK = "022")
  if (!mask || Number.parseInt(mask, 8) === STARTING_UMASK) return fn();
  const previous = umaskTurn;
  let release!: () => void;
  umaskTurn = new Promise<void>((r) => (release = r));
  await previous;
  const old = process.umask(Number.parseInt(mask, 8));
  try {
    return await fn();
  } finally {
    process.umask(old);
    release();
  }
}

/** Rejects when the build is interrupted: in-process JS cannot be killed, so it is abandoned. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error(`${what} interrupted`));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error(`${what} interrupted`));
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

let nextRunId = process.pid * 1000;

const words = (v: unknown) => (v === undefined || v === null ? [] : String(v).split(/\s+/).filter(Boolean));

export interface ExecutorEnvironment {
  hooks: KilnHooks;
  /** The recipe's parsed DataStore (shared by its tasks; each task works on a copy). */
  recipeData(node: TaskNode): DataStore;
  /** Environment for shell scripts (the configuration's filtered environment). */
  env: Record<string, string>;
  signal: AbortSignal;
  plugins?: (name: string) => unknown;
}

/** A running task as the run queue tracks it. */
export interface TaskRunning {
  ref: TaskRef;
  logFile?: string;
  /** Stop its processes (interrupt); SIGTERM unless told otherwise. */
  kill(signal?: NodeJS.Signals): void;
  done: Promise<void>;
}

export function taskRef(node: TaskNode): TaskRef {
  return { id: node.id, pn: node.recipe.pn, task: node.task, file: node.recipe.file };
}

/** The last `n` lines of a log, for failure reports. */
export function logTail(file: string | undefined, n = 20): string[] {
  if (!file) return [];
  try {
    const lines = readFileSync(file, "utf8").split("\n");
    if (lines.at(-1) === "") lines.pop();
    return lines.slice(-n);
  } catch {
    return [];
  }
}

class TaskExecution {
  private readonly shells = new Set<ShellRun>();
  readonly ref: TaskRef;
  readonly api: KilnJsApi;
  /** What BitBake's worker pid is in file names: unique per task run, so tasks of one recipe running at once never share a run script. */
  readonly runId = nextRunId++;
  logFile = "";

  constructor(
    private readonly node: TaskNode,
    private readonly env: ExecutorEnvironment,
    private readonly d: DataStore,
    private readonly number: () => { number: number; toRun: number },
  ) {
    this.ref = taskRef(node);
    const log = (level: LogEvent["level"], label: string) => (message: string) => {
      this.appendLog(label ? `${label}: ${message}` : message);
      env.hooks.log.call({ type: "Log", level, message, task: this.ref.id, time: Date.now() });
    };
    this.api = taskJsApi(
      { note: log("note", "NOTE"), plain: log("plain", ""), warn: log("warn", "WARNING"), debug: log("debug", "DEBUG") },
      env.plugins,
      (name) => this.execFunc(name),
      {
        download: (store) => fetchSources(store as DataStore, env.hooks),
        unpack: (store) => unpackSources(store as DataStore, env.hooks),
        patch: (store) => patchSources(store as DataStore),
        clean: (store) => cleanSources(store as DataStore, env.hooks),
      },
    );
  }

  appendLog(line: string): void {
    if (this.logFile) appendFileSync(this.logFile, `${line}\n`);
  }

  kill(signal?: NodeJS.Signals): void {
    for (const s of this.shells) s.kill(signal);
  }

  /** Set up T and the log, as BitBake does before TaskStarted. */
  prepare(): void {
    const t = String(this.d.getVar("T") ?? "");
    if (!t) throw new TaskError(this.ref.id, `T is not set for ${this.ref.pn}: nowhere to write the log`);
    ensureDir(t);
    const name = `log.${this.node.task}.${this.runId}`;
    this.logFile = join(t, name);
    // a new log each run (BitBake opens it for writing), even in the same process
    try {
      writeFileSync(this.logFile, "");
    } catch {
      // T was removed since (a cleandirs): make it again
      mkdirSync(t, { recursive: true });
      writeFileSync(this.logFile, "");
    }
    replaceSymlinkSync(name, join(t, `log.${this.node.task}`));
    appendFileSync(join(t, "log.task_order"), `${this.node.task} (${this.runId}): ${name}\n`);
    this.d.setVar("BB_LOGFILE", this.logFile, { ignore: true });
  }

  /** As BitBake: an empty log (and its symlink) is not kept. */
  dropEmptyLog(): void {
    if (!this.logFile) return;
    try {
      if (statSync(this.logFile).size > 0) return;
      rmSync(this.logFile, { force: true });
      rmSync(join(String(this.d.getVar("T")), `log.${this.node.task}`), { force: true });
    } catch {
      // already gone
    }
  }

  private checkInterrupted(func: string): void {
    if (this.env.signal.aborted) throw new TaskError(this.ref.id, `${func} not started: the build was interrupted`, { logFile: this.logFile });
  }

  /** A function's [cleandirs] emptied, its [dirs] made; the cwd (the last of dirs) and [lockfiles]. */
  private async prepareDirs(func: string): Promise<{ cwd?: string; locks: string[] }> {
    const d = this.d;
    for (const dir of words(d.getVarFlag(func, "cleandirs"))) {
      await rm(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
    }
    const dirs = words(d.getVarFlag(func, "dirs"));
    for (const dir of dirs) mkdirSync(dir, { recursive: true });
    return { cwd: dirs.at(-1), locks: words(d.getVarFlag(func, "lockfiles")) };
  }

  /**
   * A plugin's body for the task (the taskFunction hook), under the task's own
   * [cleandirs], [dirs] and [lockfiles], as the metadata function it stands for would
   * run. Undefined when no plugin handled it.
   */
  private async pluginBody(task: string, ctx: TaskContext): Promise<true | undefined> {
    const plugin = this.env.hooks.taskFunction.for(task);
    if (!plugin.isUsed()) return undefined;
    const run = () => untilAborted(plugin.promise(this.ref, this.d, ctx), this.env.signal, task);
    // (a tap that declines leaves the task to execFunc, which prepares them again: harmless)
    const { locks } = await this.prepareDirs(task);
    return locks.length ? withLocks(locks, run, this.env.signal) : run();
  }

  /** BitBake's exec_func: the function's cleandirs, dirs (the last is the cwd) and lockfiles. */
  async execFunc(func: string): Promise<void> {
    const d = this.d;
    const body = d.getVar(func, false);
    if (body === undefined || body === null) {
      this.api.warn(`Function ${func} doesn't exist`);
      return;
    }
    const { cwd, locks } = await this.prepareDirs(func);
    // the task's [umask], else BB_DEFAULT_UMASK (BitBake's worker applies one or the other)
    const umaskFlag = d.getVarFlag(this.node.task, "umask") || d.getVar("BB_DEFAULT_UMASK");
    const umask = umaskFlag && /^[0-7]{1,4}$/.test(String(umaskFlag).trim()) ? String(umaskFlag).trim() : undefined;
    const run = async () => {
      // checked again here: a lock may have been waited for through an interrupt
      this.checkInterrupted(func);
      if (d.getVarFlag(func, "js", false)) {
        await untilAborted(
          runJsWithUmask(umask, () => runJsFunction(d, func, this.api) as Promise<unknown>),
          this.env.signal,
          func,
        );
        return;
      }
      if (!String(body).trim()) return;
      const shell = runShell(d, func, {
        tempDir: String(d.getVar("T")),
        logFile: this.logFile,
        env: this.env.env,
        cwd,
        umask: umask ?? octal(STARTING_UMASK),
        taskId: this.ref.id,
        runId: this.runId,
        onMessages: (messages) => {
          for (const m of messages) {
            // as BitBake's exec_func_shell reads its LOGFIFO: bbfatal's message is an error
            const level = SHELL_MESSAGE_LEVELS[m.kind];
            if (level) this.env.hooks.log.call({ type: "Log", level, message: m.text, task: this.ref.id, time: Date.now() });
          }
        },
      });
      this.shells.add(shell);
      try {
        await shell.done;
      } finally {
        this.shells.delete(shell);
      }
    };
    if (locks.length) await withLocks(locks, run, this.env.signal);
    else await run();
  }

  private async fire(event: Parameters<typeof fireMetadataHandlers>[1]): Promise<void> {
    await fireMetadataHandlers(this.d, event, this.api);
  }

  async run(): Promise<void> {
    const { hooks } = this.env;
    const d = this.d;
    const task = this.node.task;
    const started = Date.now();
    const ctx: TaskContext = {
      log: (l) => this.appendLog(l),
      logFile: this.logFile,
      signal: this.env.signal,
      note: (m) => this.api.note(m),
      warn: (m) => this.api.warn(m),
      execFunc: (name) => this.execFunc(name),
    };
    const startedEvent = { type: "TaskStarted" as const, ...this.ref, ...this.number(), logFile: this.logFile, time: started };
    hooks.taskStarted.call(startedEvent);
    try {
      await this.fire(startedEvent);
      await hooks.taskPre.promise(this.ref, d);
      for (const f of words(d.getVarFlag(task, "prefuncs"))) await this.execFunc(f);
      // .for(): plugins may tap task names as their hooks come into being (HookMap factory interceptors)
      const handled = await this.pluginBody(task, ctx);
      if (!handled) await this.execFunc(task);
      for (const f of words(d.getVarFlag(task, "postfuncs"))) await this.execFunc(f);
      await hooks.taskPost.promise(this.ref, d, { ok: true });
    } catch (err) {
      await hooks.taskPost.promise(this.ref, d, { ok: false, error: err }).catch(() => undefined);
      const message = err instanceof Error ? err.message : String(err);
      this.appendLog(`ERROR: ${message}`);
      if (!(err instanceof KilnError) && err instanceof Error && err.stack) this.appendLog(err.stack);
      const interrupted = this.env.signal.aborted;
      const failed = {
        type: "TaskFailed" as const,
        ...this.ref,
        elapsedMs: Date.now() - started,
        message,
        logFile: this.logFile,
        logTail: logTail(this.logFile),
        ...(interrupted ? { interrupted } : {}),
        time: Date.now(),
      };
      hooks.taskFailed.call(failed);
      await this.fire(failed).catch(() => undefined);
      this.dropEmptyLog();
      throw err instanceof TaskError ? err : new TaskError(this.ref.id, message, { cause: err, logFile: this.logFile });
    }
    const succeeded = { type: "TaskSucceeded" as const, ...this.ref, elapsedMs: Date.now() - started, logFile: this.logFile, time: Date.now() };
    await this.fire(succeeded);
    hooks.taskSucceeded.call(succeeded);
    this.dropEmptyLog();
  }
}

/** Start a task; the returned handle's `done` settles when it has finished or failed. */
export function startTask(node: TaskNode, env: ExecutorEnvironment, number: () => { number: number; toRun: number }): TaskRunning {
  const base = env.recipeData(node).createCopy();
  const short = node.task.replace(/^do_/, "");
  // BitBake's _task_data: a task-<name> override, then key expansion again
  base.setVar("OVERRIDES", `task-${short.replace(/_/g, "-")}:${String(base.getVar("OVERRIDES", false) ?? "")}`, { ignore: true });
  base.setVar("BB_FILENAME", node.recipe.file, { ignore: true });
  expandKeys(base);
  base.setVar("BB_CURRENTTASK", short, { ignore: true });
  // a setscene task carries the hash of the task it restores
  base.setVar("BB_TASKHASH", node.taskhash ?? "", { ignore: true });
  base.setVar("BB_UNIHASH", node.taskhash ?? "", { ignore: true });
  base.setVar("BB_RUNTASK", node.task, { ignore: true });
  base.setVar("BB_CURRENT_MC", "", { ignore: true });
  // the run script's own cd decides PWD (BitBake drops PWD's export flag too)
  base.delVarFlag("PWD", "export");
  const exec = new TaskExecution(node, env, base, number);
  const done = (async () => {
    try {
      exec.prepare();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      env.hooks.taskFailed.call({ type: "TaskFailed", ...exec.ref, elapsedMs: 0, message, logTail: [], time: Date.now() });
      throw err;
    }
    await exec.run();
  })();
  return {
    ref: exec.ref,
    get logFile() {
      return exec.logFile;
    },
    kill: (signal) => exec.kill(signal),
    done,
  };
}
