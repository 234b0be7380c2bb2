/**
 * Stamps: a file `${STAMP}.do_task` per finished task (BitBake's basic stamp
 * policy; the next issue adds task hashes to the name). A task is current when its
 * stamp exists, every task it depends on is current, and none of their stamps is
 * newer than its own — so forcing or rerunning a task reruns what follows it.
 */
import { mkdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { TaskNode } from "../tasks/graph.js";

export function stampFile(node: Pick<TaskNode, "recipe" | "task" | "flags">): string {
  const extra = node.flags["stamp-extra-info"];
  return `${node.recipe.stamp}.${node.task}${extra ? `.${extra}` : ""}`;
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
}

export function removeStamp(node: TaskNode): void {
  rmSync(stampFile(node), { force: true });
}

/** Which tasks (of a graph in dependency order) are up to date and need not run. */
export function currentTasks(nodes: TaskNode[]): boolean[] {
  const current = new Array<boolean>(nodes.length).fill(false);
  const times = new Array<number | undefined>(nodes.length);
  for (const node of nodes) {
    if (node.recipe.stamp === "" || node.flags.nostamp) continue;
    const mine = stampTime(node);
    times[node.index] = mine;
    if (mine === undefined) continue;
    current[node.index] = node.deps.every((d) => current[d] && (times[d] as number) <= mine);
  }
  return current;
}
