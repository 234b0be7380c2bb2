/**
 * The plugin's caches in `${CACHE}/debian` (parsed indexes, universes, resolved sets)
 * are named by what they were computed from, so every suite update adds new ones (a
 * parsed bookworm index is ~34 MB). A cache read marks its file used (its mtime, at
 * most once a day); writing a new one removes those of its kind nobody used for a week.
 * A week, not "every other": several configurations may share one CACHE (two suites,
 * a switch back and forth), as TMPDIR is shared.
 */
import { readdirSync, rmSync, statSync, utimesSync } from "node:fs";
import { join } from "node:path";

const DAY_MS = 24 * 60 * 60 * 1000;
/** How long an unused cache file is kept. */
export const UNUSED_FOR_MS = 7 * DAY_MS;

/** `file` was just read: its mtime says so (left alone when touched within the day: one syscall fewer per parse). */
export function markUsed(file: string, now = Date.now()): void {
  try {
    if (now - statSync(file).mtimeMs > DAY_MS) utimesSync(file, now / 1000, now / 1000);
  } catch {
    // gone meanwhile: nothing to mark
  }
}

/** Remove the files of `dir` whose names match `kind` and that were not used for UNUSED_FOR_MS. */
export function pruneUnused(dir: string, kind: RegExp, now = Date.now()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!kind.test(name)) continue;
    const file = join(dir, name);
    try {
      if (now - statSync(file).mtimeMs <= UNUSED_FOR_MS) continue;
      rmSync(file, { force: true });
      removed.push(name);
    } catch {
      // another build removed it, or it is not ours to remove: left
    }
  }
  return removed;
}
