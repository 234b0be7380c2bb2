/**
 * Interactive output, like BitBake's knotty: a status area at the bottom of the
 * terminal (running tasks with elapsed time) redrawn in place, with notes, warnings,
 * failures and the summary scrolling above it. log-update owns the redraw: it
 * remembers how many lines it drew, so a permanent line is printed by erasing the
 * status area, writing the line, and drawing the area again below it.
 */
import type { createLogUpdate as CreateLogUpdate } from "log-update";
import type { Output } from "../output.js";
import type { EventSink } from "./index.js";
import { type Block, failureBlock, logBlock, printBlock, startedBlock } from "./plain.js";
import { MessageTally, summaryLines } from "./summary.js";

/** Often enough for a ticking seconds counter, rare enough to cost nothing. */
const REFRESH_MS = 250;

export function formatElapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const pad = (n: number) => String(n).padStart(2, "0");
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${pad(s % 60)}s` : `${Math.floor(m / 60)}h${pad(m % 60)}m`;
}

let createLogUpdate: typeof CreateLogUpdate | undefined;

/** Import log-update, which a live reporter needs: ~40 ms that runs without a terminal do not pay. */
export async function loadLiveReporter(): Promise<void> {
  createLogUpdate ??= (await import("log-update")).createLogUpdate;
}

export function liveReporter(io: Output, stream: NodeJS.WriteStream, verbose: boolean): EventSink {
  if (!createLogUpdate) throw new Error("liveReporter: call loadLiveReporter() first");
  const update = createLogUpdate(stream);
  const tally = new MessageTally();
  /** Running task id → when we saw it start (our clock, so elapsed never goes negative). */
  const running = new Map<string, number>();
  let finished = 0;
  let toRun = 0;
  let timer: NodeJS.Timeout | undefined;

  const status = (): string => {
    const head = running.size
      ? `Currently ${running.size} running tasks (${finished} of ${toRun})`
      : `No currently running tasks (${finished} of ${toRun})`;
    // log-update drops lines from the top when the area is taller than the terminal; keep the header.
    const room = Math.max(1, (stream.rows || 24) - 2);
    const now = Date.now();
    const tasks = [...running].map(([id, since]) => `${id} (${formatElapsed(now - since)})`);
    const shown = tasks.length > room ? [...tasks.slice(0, room - 1), `... and ${tasks.length - room + 1} more`] : tasks;
    return [head, ...shown].join("\n");
  };
  const redraw = () => {
    if (timer) update(status());
  };
  const print = (block: Block | undefined) => {
    if (!block) return;
    if (timer) update.clear();
    printBlock(io, block);
    redraw();
  };
  const start = () => {
    if (!timer) timer = setInterval(redraw, REFRESH_MS).unref();
    redraw();
  };
  const stop = () => {
    if (!timer) return;
    clearInterval(timer);
    timer = undefined;
    update.clear();
    update.done();
  };

  return {
    handle(event) {
      switch (event.type) {
        case "BuildStarted":
          toRun = event.toRun;
          print(startedBlock(event));
          return start();
        case "TaskStarted":
          toRun = event.toRun;
          running.set(event.id, Date.now());
          return start();
        case "TaskSucceeded":
          running.delete(event.id);
          finished++;
          return redraw();
        case "TaskFailed":
          running.delete(event.id);
          finished++;
          tally.add(event);
          return print(failureBlock(event));
        case "Log":
          tally.add(event);
          return print(logBlock(event, verbose));
        case "BuildCompleted":
          stop();
          return print({ to: "out", lines: summaryLines(event, tally) });
      }
    },
    close: stop,
  };
}
