/**
 * Non-TTY output (CI logs, pipes): one plain line per event, no cursor codes. The
 * line formats here are shared with the live reporter. As in BitBake, errors go to
 * stderr and everything else to stdout.
 */
import type { BuildStartedEvent, LogEvent, TaskFailedEvent } from "@kiln/core";
import type { Output } from "../output.js";
import type { EventSink } from "./index.js";
import { MessageTally, summaryLines } from "./summary.js";

/** Lines that stay on screen, and the stream they belong to. */
export interface Block {
  to: keyof Output;
  lines: string[];
}

const PREFIX = { debug: "DEBUG", note: "NOTE", plain: "", warn: "WARNING", error: "ERROR" } as const;

export function startedBlock(event: BuildStartedEvent): Block {
  return { to: "out", lines: [`NOTE: Executing Tasks (${event.toRun} of ${event.total} need to run)`] };
}

/** undefined for debug messages unless verbose. */
export function logBlock(event: LogEvent, verbose: boolean): Block | undefined {
  if (event.level === "debug" && !verbose) return undefined;
  // bb.plain: the line as it is
  if (event.level === "plain") return { to: "out", lines: [event.message] };
  const where = event.task ? `${event.task}: ` : "";
  return { to: event.level === "error" ? "err" : "out", lines: [`${PREFIX[event.level]}: ${where}${event.message}`] };
}

export function failureBlock(event: TaskFailedEvent): Block {
  if (event.interrupted) return { to: "out", lines: [`WARNING: Task ${event.id} was interrupted`] };
  const lines = [`ERROR: Task ${event.id} failed: ${event.message}`];
  if (event.logFile) lines.push(`ERROR: Logfile of failure stored in: ${event.logFile}`);
  if (event.logTail.length) lines.push("Log data follows:", ...event.logTail.map((l) => `  | ${l}`));
  return { to: "err", lines };
}

export function printBlock(io: Output, block: Block): void {
  io[block.to](block.lines.map((l) => l + "\n").join(""));
}

export function plainReporter(io: Output, verbose: boolean): EventSink {
  const tally = new MessageTally();
  const print = (block: Block | undefined) => block && printBlock(io, block);
  return {
    handle(event) {
      switch (event.type) {
        case "BuildStarted":
          return print(startedBlock(event));
        case "TaskStarted":
          return print({ to: "out", lines: [`NOTE: Running task ${event.number} of ${event.toRun}: ${event.id}`] });
        case "TaskSucceeded":
          return print({ to: "out", lines: [`NOTE: Task ${event.id} succeeded`] });
        case "TaskFailed":
          tally.add(event);
          return print(failureBlock(event));
        case "Log":
          tally.add(event);
          return print(logBlock(event, verbose));
        case "BuildCompleted":
          return print({ to: "out", lines: summaryLines(event, tally) });
      }
    },
    close() {},
  };
}
