/**
 * basehash (DESIGN §5, BitBake's generate_dependency_hash): sha256 over the task's
 * own value and, for every variable and function it depends on (transitively, in
 * sorted order), the name and the value the dependency analysis hashes. Only
 * metadata goes in, never paths of the build (those variables are ignored), so the
 * same layers give the same basehash wherever they are checked out.
 */
import { createHash, hash } from "node:crypto";
import type { DataStore } from "../data/datastore.js";
import { DependencyTable, dependencyContext } from "../deps/vardeps.js";
import { listTasks } from "../parse/recipe.js";

/** Mixed into every hash: bump when what goes into hashes changes (CONVENTIONS 14). */
export const SIGGEN_VERSION = "kiln-sig-1";

export interface BasehashDetails {
  task: string;
  basehash: string;
  /** Every variable/function the task depends on, sorted. */
  taskdeps: string[];
  /** Direct dependencies of the task and of each of those. */
  gendeps: Record<string, string[]>;
  /** The hashed value of the task and each dependency (null: unset). */
  varvals: Record<string, string | null>;
}

/** crypto.hash: one call, no Hash object (2.6x faster than createHash for the short inputs of a large graph). */
export function sha256hex(text: string): string {
  return hash("sha256", text);
}

/** The hash alone, streamed (what the parse index keeps): no detail objects are built. */
export function basehashOnly(task: string, table: DependencyTable): string {
  const h = createHash("sha256");
  h.update(`${SIGGEN_VERSION}\u0000${task}\u0000${table.get(task).value ?? ""}`);
  for (const dep of [...table.closure(task)].sort()) {
    const value = table.get(dep).value;
    h.update(`\u0000${dep}\u0000${value === null ? "\u0000unset" : value}`);
  }
  return h.digest("hex");
}

/** basehash of every task of a parsed recipe (the index's; details are built only for siginfo). */
export function taskBasehashValues(d: DataStore, debug?: (m: string) => void): Map<string, string> {
  const table = new DependencyTable(dependencyContext(d, debug));
  const out = new Map<string, string>();
  for (const task of listTasks(d)) out.set(task, basehashOnly(task, table));
  return out;
}

function basehashOf(task: string, table: DependencyTable): BasehashDetails {
  const own = table.get(task);
  const taskdeps = [...table.closure(task)].sort();
  const parts = [SIGGEN_VERSION, task, own.value ?? ""];
  const varvals: Record<string, string | null> = { [task]: own.value };
  const gendeps: Record<string, string[]> = { [task]: [...own.deps].sort() };
  for (const dep of taskdeps) {
    const { deps, value } = table.get(dep);
    varvals[dep] = value;
    gendeps[dep] = [...deps].sort();
    parts.push(dep, value === null ? "\u0000unset" : value);
  }
  return { task, basehash: sha256hex(parts.join("\u0000")), taskdeps, gendeps, varvals };
}

/** basehash and its inputs for every task of a parsed recipe. */
export function taskBasehashes(d: DataStore, debug?: (m: string) => void): Map<string, BasehashDetails> {
  const table = new DependencyTable(dependencyContext(d, debug));
  const out = new Map<string, BasehashDetails>();
  for (const task of listTasks(d)) out.set(task, basehashOf(task, table));
  return out;
}

/**
 * One task's basehash details at a time from one recipe's dependency table, built on
 * first use (siginfo of the tasks that run: a Debian package recipe runs one task of
 * four, and working out all four cost most of its stamping).
 */
export function basehashDetailsOf(d: DataStore): (task: string) => BasehashDetails | undefined {
  let table: DependencyTable | undefined;
  let tasks: Set<string> | undefined;
  const done = new Map<string, BasehashDetails>();
  return (task) => {
    let details = done.get(task);
    if (!details) {
      // only the recipe's own tasks have one (as taskBasehashes)
      if (!(tasks ??= new Set(listTasks(d))).has(task)) return undefined;
      details = basehashOf(task, (table ??= new DependencyTable(dependencyContext(d))));
      done.set(task, details);
    }
    return details;
  };
}

/** One task's basehash and what went into it (the programmatic `taskSignature`). */
export function taskSignature(d: DataStore, task: string): { basehash: string; details: BasehashDetails } {
  const details = basehashOf(task, new DependencyTable(dependencyContext(d)));
  return { basehash: details.basehash, details };
}
