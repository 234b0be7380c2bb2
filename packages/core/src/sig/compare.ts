/**
 * Explaining why two signatures differ (BitBake's compare_sigfiles): changed
 * variables (functions as unified diffs), dependencies added or removed, files
 * whose checksum changed, taints, and dependency tasks whose hash changed —
 * recursing into their siginfo, when both are at hand, down to the root cause.
 */
import { createRequire } from "node:module";

// loaded when an explanation needs a diff, not at start-up
let diffModule: typeof import("diff") | undefined;
function createTwoFilesPatch(oldName: string, newName: string, oldText: string, newText: string, context: number): string {
  diffModule ??= createRequire(import.meta.url)("diff") as typeof import("diff");
  return diffModule.createTwoFilesPatch(oldName, newName, oldText, newText, "", "", { context });
}
import type { Siginfo } from "./siginfo.js";

export interface CompareOptions {
  /** The siginfo pair of a dependency whose hash changed, if both can be found. */
  dependency?: (id: string, a: Siginfo, b: Siginfo) => [Siginfo, Siginfo] | undefined;
  /** How deep to follow changed dependencies. */
  maxDepth?: number;
}

const quote = (v: string | null | undefined) => (v === null || v === undefined ? "(unset)" : `'${v}'`);

function listChange(what: string, a: string[], b: string[], out: string[]): void {
  const sa = new Set(a);
  const sb = new Set(b);
  for (const x of b) if (!sa.has(x)) out.push(`${what} ${x} was added`);
  for (const x of a) if (!sb.has(x)) out.push(`${what} ${x} was removed`);
}

export function compareSiginfo(a: Siginfo, b: Siginfo, options: CompareOptions = {}, depth = 0): string[] {
  const out: string[] = [];
  if (a.taskhash === b.taskhash) return [`Task ${b.id}: hashes are identical (${b.taskhash.slice(0, 12)})`];
  if (a.id !== b.id) out.push(`Comparing ${a.id} with ${b.id}`);

  if (a.basehash !== b.basehash) {
    listChange("Dependency on variable", a.taskdeps, b.taskdeps, out);
    const funcs = new Set([...a.functions, ...b.functions]);
    const names = [...new Set([...Object.keys(a.varvals), ...Object.keys(b.varvals)])].sort();
    for (const name of names) {
      if (!(name in a.varvals) || !(name in b.varvals)) continue;
      const va = a.varvals[name];
      const vb = b.varvals[name];
      if (va === vb) continue;
      if (funcs.has(name) || (va ?? "").includes("\n") || (vb ?? "").includes("\n")) {
        out.push(`Function ${name} body changed:`);
        const patch = createTwoFilesPatch(`${name} (old)`, `${name} (new)`, `${va ?? ""}\n`, `${vb ?? ""}\n`, 3);
        out.push(...patch.split("\n").slice(2).filter((l) => l !== "" && !l.startsWith("\\")));
      } else {
        out.push(`Variable ${name} value changed from ${quote(va)} to ${quote(vb)}`);
      }
    }
    for (const name of names) {
      const da = a.gendeps[name];
      const db = b.gendeps[name];
      if (da && db && da.join(" ") !== db.join(" ")) out.push(`List of dependencies for variable ${name} changed from '${da.join(" ")}' to '${db.join(" ")}'`);
    }
    if (a.extraBasehash.join() !== b.extraBasehash.join()) out.push(`Plugin inputs to the basehash changed from [${a.extraBasehash.join(", ")}] to [${b.extraBasehash.join(", ")}]`);
    if (!out.length) out.push(`basehash changed from ${a.basehash} to ${b.basehash}`);
  }

  const fa = new Map(a.fileChecksums);
  const fb = new Map(b.fileChecksums);
  for (const [name, cs] of fb) {
    if (!fa.has(name)) out.push(`File ${name} was added`);
    else if (fa.get(name) !== cs) {
      if (cs === null) out.push(`File ${name} was removed from disk`);
      else if (fa.get(name) === null) out.push(`File ${name} appeared`);
      else out.push(`File ${name} checksum changed`);
    }
  }
  for (const name of fa.keys()) if (!fb.has(name)) out.push(`File ${name} was removed`);

  if ((a.taint ?? "") !== (b.taint ?? "")) {
    const kind = (b.taint ?? a.taint ?? "").startsWith("nostamp:") ? "nostamp task" : "forced/invalidated task";
    out.push(`Taint (by ${kind}) changed from ${quote(a.taint)} to ${quote(b.taint)}`);
  }

  if (a.runtaskdeps.join(" ") !== b.runtaskdeps.join(" ")) {
    out.push(`Task dependencies changed from [${a.runtaskdeps.join(", ")}] to [${b.runtaskdeps.join(", ")}]`);
  }
  for (const id of b.runtaskdeps) {
    const ha = a.runtaskhashes[id];
    const hb = b.runtaskhashes[id];
    if (!ha || ha === hb) continue;
    out.push(`Dependency on task ${id} changed hash (${ha.slice(0, 12)} -> ${hb.slice(0, 12)})`);
    const pair = depth < (options.maxDepth ?? 16) ? options.dependency?.(id, a, b) : undefined;
    if (pair) for (const line of compareSiginfo(pair[0], pair[1], options, depth + 1)) out.push(`  ${line}`);
  }
  if (a.extraTaskhash.join() !== b.extraTaskhash.join()) out.push(`Plugin inputs to the taskhash changed`);
  return out;
}

/** A readable dump of one siginfo (`kiln dumpsig`). */
export function describeSiginfo(s: Siginfo): string[] {
  const out = [
    `Task: ${s.id}`,
    `Signature handler: ${s.handler}`,
    `basehash: ${s.basehash}`,
    `taskhash: ${s.taskhash}`,
    `BB_BASEHASH_IGNORE_VARS: ${s.basehashIgnoreVars.join(" ")}`,
    `BB_TASKHASH_IGNORE_TASKS: ${s.taskhashIgnoreTasks}`,
    `Variable dependencies: ${s.taskdeps.join(" ")}`,
  ];
  for (const name of Object.keys(s.gendeps).sort()) out.push(`List of dependencies for variable ${name} is [${s.gendeps[name].join(", ")}]`);
  for (const name of Object.keys(s.varvals).sort()) out.push(`Variable ${name} value is ${quote(s.varvals[name])}`);
  out.push(`Tasks this task depends on: [${s.runtaskdeps.join(", ")}]`);
  for (const id of s.runtaskdeps) out.push(`Hash for dependent task ${id} is ${s.runtaskhashes[id]}`);
  for (const [name, cs] of s.fileChecksums) out.push(`File ${name}: ${cs ?? "absent"}`);
  if (s.taint) out.push(`Tainted: ${s.taint}`);
  for (const x of s.extraBasehash) out.push(`Plugin basehash input: ${x}`);
  for (const x of s.extraTaskhash) out.push(`Plugin taskhash input: ${x}`);
  return out;
}
