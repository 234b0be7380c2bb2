/**
 * Stamps: a file `${STAMP}.do_task[.taskhash]` per finished task (BitBake's stamp
 * policy; with the basichash handler the name carries the taskhash, so a changed
 * input means a missing stamp).
 */
import { rmSync, statSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { ensureDir, writeAtomicSync } from "./fs-small.js";
import { basename, dirname, join } from "node:path";
import type { TaskNode } from "../tasks/graph.js";

/** `${STAMP}.do_x[.taskhash][.extra-info]` (the hash with the basichash handler, as BitBake). */
export function stampFile(node: Pick<TaskNode, "recipe" | "task" | "flags" | "stampHash">): string {
  const extra = node.flags["stamp-extra-info"];
  return `${node.recipe.stamp}.${node.task}${node.stampHash ? `.${node.stampHash}` : ""}${extra ? `.${extra}` : ""}`;
}

/** mtime in ms, or undefined when there is no stamp. */
export function stampTime(node: TaskNode): number | undefined {
  try {
    return statSync(stampFile(node)).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * Writes stamps for one build, replacing earlier stamps of the same task (other
 * hashes; BitBake's cleanmask). Each stamp directory is listed once per build and
 * indexed by task: one directory may hold the stamps of every recipe, and listing
 * it per task made a 7000-task build quadratic.
 */
export class StampWriter {
  private readonly dirs = new Map<string, Promise<Map<string, Set<string>>>>();

  /** `${base}.${task}` of a stamp file name; undefined for siginfo, taint and temp files. */
  private static keyOf(name: string): string | undefined {
    if (name.includes(".sigdata.") || name.endsWith(".taint") || name.includes(".tmp.")) return undefined;
    return /^(.*?\.do_[^.]+)(?:\..*)?$/.exec(name)?.[1];
  }

  private index(dir: string): Promise<Map<string, Set<string>>> {
    let p = this.dirs.get(dir);
    if (!p) {
      p = readdir(dir)
        .catch(() => [] as string[])
        .then((names) => {
          const byKey = new Map<string, Set<string>>();
          for (const name of names) {
            const key = StampWriter.keyOf(name);
            if (!key) continue;
            const set = byKey.get(key) ?? new Set<string>();
            set.add(name);
            byKey.set(key, set);
          }
          return byKey;
        });
      this.dirs.set(dir, p);
    }
    return p;
  }

  async write(node: TaskNode): Promise<void> {
    const file = stampFile(node);
    const dir = dirname(file);
    ensureDir(dir);
    const index = await this.index(dir);
    writeAtomicSync(file, "");
    const key = `${basename(node.recipe.stamp)}.${node.task}`;
    for (const old of index.get(key) ?? []) if (old !== basename(file)) rmSync(join(dir, old), { force: true });
    index.set(key, new Set([basename(file)]));
  }
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
  // a dependency restored by its setscene task (and not built since) is as good as current
  const restored = (d: TaskNode) => {
    const t3 = stampTime({ ...d, task: `${d.task}_setscene` });
    const t2 = times[d.index];
    return t3 !== undefined && (t2 === undefined || t3 > t2);
  };
  for (const node of nodes) {
    if (node.recipe.stamp === "" || node.flags.nostamp) continue;
    const mine = stampTime(node);
    times[node.index] = mine;
    if (mine === undefined) continue;
    current[node.index] = node.deps.every((d) => {
      const dep = nodes[d];
      if (dep.recipe !== node.recipe) return true;
      if (restored(dep)) return true;
      return current[d] && (times[d] as number) <= mine;
    });
  }
  return current;
}
