/**
 * Build events: what the run queue reports while it works. One discriminated union
 * (`type`), fired through the event hooks in hooks.ts, handed to metadata
 * `addhandler` functions, and printed one per line by `--json`. Reporters (live
 * status, plain lines, JSON) listen to these; the run queue knows none of them.
 */

/** A task as reporters see it. `id` is `PN:do_task`, stable across machines. */
export interface TaskRef {
  id: string;
  pn: string;
  task: string;
  /** The recipe file (or virtual recipe id) the task belongs to. */
  file: string;
}

export interface BuildStartedEvent {
  type: "BuildStarted";
  targets: string[];
  /** Tasks in the graph, including those already up to date. */
  total: number;
  /** Tasks that will run (not current, not noexec). */
  toRun: number;
  threads: number;
  time: number;
}

export interface TaskStartedEvent extends TaskRef {
  type: "TaskStarted";
  /** 1-based position among tasks that run, for "N of M". */
  number: number;
  toRun: number;
  logFile?: string;
  time: number;
}

export interface TaskSucceededEvent extends TaskRef {
  type: "TaskSucceeded";
  elapsedMs: number;
  logFile?: string;
  time: number;
}

export interface TaskFailedEvent extends TaskRef {
  type: "TaskFailed";
  elapsedMs: number;
  message: string;
  logFile?: string;
  /** The last lines of the task's log. */
  logTail: string[];
  /** True when the task was stopped by an interrupt rather than failing by itself. */
  interrupted?: boolean;
  time: number;
}

export interface BuildCompletedEvent {
  type: "BuildCompleted";
  targets: string[];
  total: number;
  /** Tasks that were up to date and did not run. */
  current: number;
  /** Tasks that ran (including noexec placeholders). */
  run: number;
  succeeded: number;
  failed: number;
  /** Tasks never started because something they depend on failed (or the build stopped). */
  notRun: number;
  failedTasks: { id: string; logFile?: string }[];
  interrupted: boolean;
  elapsedMs: number;
  time: number;
}

/** A message from a task (kiln.note/warn in JS, handlers) or from the run queue. */
export interface LogEvent {
  type: "Log";
  /** `plain`: a line shown as it is (bb.plain), e.g. do_listtasks's. */
  level: "debug" | "note" | "plain" | "warn" | "error";
  message: string;
  /** The task that logged it, if any. */
  task?: string;
  time: number;
}

export type BuildEvent =
  | BuildStartedEvent
  | TaskStartedEvent
  | TaskSucceededEvent
  | TaskFailedEvent
  | BuildCompletedEvent
  | LogEvent;

export type BuildEventType = BuildEvent["type"];
