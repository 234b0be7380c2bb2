/** The end-of-build summary shared by the live and plain reporters, worded after BitBake's knotty. */
import type { BuildCompletedEvent, LogEvent, TaskFailedEvent } from "@kiln/core";

/** Warnings and errors printed during the build, for the closing "There were N ..." lines. */
export class MessageTally {
  warnings = 0;
  errors = 0;

  add(event: LogEvent | TaskFailedEvent): void {
    if (event.type === "TaskFailed") {
      if (!event.interrupted) this.errors++;
    } else if (event.level === "warn") this.warnings++;
    else if (event.level === "error") this.errors++;
  }
}

const plural = (n: number, one: string, many: string) => (n === 1 ? one : many).replace("%d", String(n));

export function summaryLines(event: BuildCompletedEvent, tally: MessageTally): string[] {
  // Like BitBake: attempted = everything that was considered, i.e. all but the never-started.
  const attempted = event.total - event.notRun;
  const outcome = event.failed ? `${event.failed} failed` : "all succeeded";
  const lines = [`NOTE: Tasks Summary: Attempted ${attempted} tasks of which ${event.current} didn't need to be rerun and ${outcome}.`];
  if (event.interrupted) lines.push("NOTE: Build interrupted");
  const tail: string[] = [];
  if (event.failedTasks.length) {
    tail.push(plural(event.failedTasks.length, "Summary: %d task failed:", "Summary: %d tasks failed:"));
    for (const t of event.failedTasks) {
      tail.push(`  ${t.id}`);
      if (t.logFile) tail.push(`    log: ${t.logFile}`);
    }
  }
  if (tally.warnings) tail.push(plural(tally.warnings, "Summary: There was %d WARNING message.", "Summary: There were %d WARNING messages."));
  if (tally.errors) tail.push(plural(tally.errors, "Summary: There was %d ERROR message.", "Summary: There were %d ERROR messages."));
  // BitBake sets the "Summary:" block off with a blank line.
  return tail.length ? [...lines, "", ...tail] : lines;
}
