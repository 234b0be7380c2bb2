/**
 * Build reporters (CONVENTIONS 18): each turns the run queue's events into output of
 * one kind; the run queue knows none of them. The CLI picks one with reporterKind().
 */
import type { BuildEvent, KilnHooks } from "@kiln/core";
import type { Output } from "../output.js";
import { jsonReporter } from "./json.js";
import { liveReporter } from "./live.js";

export { loadLiveReporter } from "./live.js";
import { plainReporter } from "./plain.js";

export interface Reporter {
  /** Stops timers and leaves the terminal clean; later events are ignored. */
  close(): void;
}

/** What each reporter module implements; attachReporter wires it to the hooks. */
export interface EventSink extends Reporter {
  handle(event: BuildEvent): void;
}

export type ReporterKind = "live" | "plain" | "json";
export type ReporterHooks = Pick<KilnHooks, "buildStarted" | "taskStarted" | "taskSucceeded" | "taskFailed" | "buildCompleted" | "log">;

export interface ReporterOptions {
  /** The terminal the live status area is drawn on (default process.stdout). */
  stream?: NodeJS.WriteStream;
  /** Show debug messages. */
  verbose?: boolean;
}

export const REPORTER_TAP = "kiln:cli-reporter";

export function reporterKind(opts: { json?: boolean; isTTY: boolean }): ReporterKind {
  if (opts.json) return "json";
  return opts.isTTY ? "live" : "plain";
}

export function attachReporter(kind: ReporterKind, hooks: ReporterHooks, io: Output, options: ReporterOptions = {}): Reporter {
  const verbose = options.verbose ?? false;
  const sink: EventSink =
    kind === "json" ? jsonReporter(io) : kind === "plain" ? plainReporter(io, verbose) : liveReporter(io, options.stream ?? process.stdout, verbose);
  // tapable cannot untap, so a closed reporter stays tapped but deaf.
  let open = true;
  const handle = (event: BuildEvent) => {
    if (open) sink.handle(event);
  };
  hooks.buildStarted.tap(REPORTER_TAP, handle);
  hooks.taskStarted.tap(REPORTER_TAP, handle);
  hooks.taskSucceeded.tap(REPORTER_TAP, handle);
  hooks.taskFailed.tap(REPORTER_TAP, handle);
  hooks.buildCompleted.tap(REPORTER_TAP, handle);
  hooks.log.tap(REPORTER_TAP, handle);
  return {
    close() {
      if (!open) return;
      open = false;
      sink.close();
    },
  };
}
