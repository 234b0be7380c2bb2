/**
 * Stamps: a file `${STAMP}.do_task` per finished task (BitBake's basic stamp
 * policy; the next issue adds task hashes to the name). A task is current when its
 * stamp exists, every task it depends on is current, and none of their stamps is
 * newer than its own — so forcing or rerunning a task reruns what follows it.
 */
import { mkdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { TaskNode } from "../tasks/graph.js";

/** `${STAMP}.do_x[.taskhash][.extra-info]` (the hash with the basichash handler, as BitBake). */
export function stampFile(node: Pick<TaskNode, "recipe" | "task" | "flags" | "stampHash">): string {
  const extra = node.flags["stamp-extra-info"];
  return `${node.recipe.stamp}.${node.task}${node.stampHash ? `.${node.stampHash}` : ""}${extra ? `.${extra}` : ""}`;
}

/** Earlier stamps of the same task (other hashes), which a new stamp replaces (BitBake's cleanmask). */
async function removeOldStamps(node: TaskNode, keep: string): Promise<void> {
  const dir = dirname(keep);
  const prefix = `${basename(node.recipe.stamp)}.${node.task}.`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || name === basename(keep)) continue;
    const rest = name.slice(prefix.length);
    if (rest.startsWith("sigdata.") || rest === "taint" || rest.includes(".tmp.")) continue;
    await rm(join(dir, name), { force: true });
  }
}

/** mtime in ms, or undefined when there is no stamp. */
export function stampTime(node: TaskNode): number | undefined {
  try {
    return statSync(stampFile(node)).mtimeMs;
  } catch {
    return undefined;
  }
}

export function writeStamp(node: TaskNode): void {
  const file = stampFile(node);
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp.${process.pid}`;
  writeFileSync(tmp, "");
  renameSync(tmp, file);
}

/** As writeStamp, off the main thread (the run queue writes thousands). */
export async function writeStampAsync(node: TaskNode): Promise<void> {
  const file = stampFile(node);
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp.${process.pid}`;
  await writeFile(tmp, "");
  await rename(tmp, file);
  await removeOldStamps(node, file);
}

export function removeStamp(node: TaskNode): void {
  rmSync(stampFile(node), { force: true });
}

/**
 * Which tasks (of a graph in dependency order) are up to date and need not run.
 * As BitBake's check_stamp_task: a task's stamp must exist, and within its recipe
 * every task it depends on must be current with a stamp no newer than its own.
 * Across recipes the hash in the stamp's name decides (a dependency's change is in
 * the dependent's taskhash), so BB_TASKHASH_IGNORE_TASKS can keep a change from
 * rippling on.
 */
export function currentTasks(nodes: TaskNode[]): boolean[] {
  const current = new Array<boolean>(nodes.length).fill(false);
  const times = new Array<number | undefined>(nodes.length);
  for (const node of nodes) {
    if (node.recipe.stamp === "" || node.flags.nostamp) continue;
    const mine = stampTime(node);
    times[node.index] = mine;
    if (mine === undefined) continue;
    current[node.index] = node.deps.every((d) => nodes[d].recipe !== node.recipe || (current[d] && (times[d] as number) <= mine));
  }
  return current;
}
