/**
 * Metadata event handlers (`addhandler name`): JS functions called with `e` (the
 * event, with `e.data` the DataStore it concerns) and `d`. `name[eventmask]`
 * limits a handler to some events; BitBake's class paths (`bb.build.TaskStarted`)
 * and kiln's bare names (`TaskStarted`) both match.
 */
import type { DataStore } from "../data/datastore.js";
import type { KilnJsApi } from "../js/kiln-api.js";
import type { BuildEvent } from "./events.js";
import { runJsFunction } from "./js-task.js";

function maskAllows(mask: unknown, type: string): boolean {
  if (mask === undefined || mask === null || mask === "") return true;
  return String(mask)
    .split(/\s+/)
    .some((m) => m === type || m.endsWith(`.${type}`));
}

/** BitBake's attribute names beside kiln's, so ported handlers read what they expect. */
function eventObject(event: BuildEvent, d: DataStore): Record<string, unknown> {
  const e: Record<string, unknown> = { ...event, data: d };
  if (event.type === "TaskStarted" || event.type === "TaskSucceeded" || event.type === "TaskFailed") {
    e.taskname = event.task;
    e.taskfile = event.file;
  }
  return e;
}

export async function fireMetadataHandlers(d: DataStore, event: BuildEvent, api: KilnJsApi): Promise<void> {
  const handlers = d.getVar("__BBHANDLERS", false);
  if (!Array.isArray(handlers) || !handlers.length) return;
  const e = eventObject(event, d);
  for (const name of handlers as string[]) {
    if (!maskAllows(d.getVarFlag(name, "eventmask"), event.type)) continue;
    await runJsFunction(d, name, api, "e, d", [e, d]);
  }
}
