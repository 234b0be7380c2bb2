/**
 * `-g`: the task graph as BitBake writes it — `task-depends.dot` (one node per
 * task labelled with its version and file, one edge per dependency) and
 * `pn-buildlist` (the recipes that take part, one per line).
 */
import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TaskGraph } from "./graph.js";

// labels carry dot's own `\n` escapes, so only quotes are escaped
const q = (s: string) => `"${s.replace(/"/g, '\\"')}"`;

export function taskDependsDot(graph: TaskGraph): string {
  const lines = ["digraph depends {"];
  const name = (i: number) => `${graph.nodes[i].recipe.pn}.${graph.nodes[i].task}`;
  const sorted = [...graph.nodes].sort((a, b) => (name(a.index) < name(b.index) ? -1 : name(a.index) > name(b.index) ? 1 : 0));
  for (const n of sorted) {
    const r = n.recipe;
    // BitBake's "PE:PV-PR", with an empty PE too
    const version = `${r.pe}:${r.pv}-${r.pr}`;
    lines.push(`${q(name(n.index))} [label=${q(`${r.pn} ${n.task}\\n${version}\\n${r.file}`)}]`);
    for (const d of [...n.deps].map(name).sort()) lines.push(`${q(name(n.index))} -> ${q(d)}`);
  }
  lines.push("}", "");
  return lines.join("\n");
}

export function pnBuildlist(graph: TaskGraph): string {
  return graph.recipes.map((r) => `${r.pn}\n`).join("");
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp.${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/** Write both files into `dir`; returns their paths. */
export function writeGraphFiles(graph: TaskGraph, dir: string): string[] {
  const dot = join(dir, "task-depends.dot");
  const list = join(dir, "pn-buildlist");
  writeAtomic(dot, taskDependsDot(graph));
  writeAtomic(list, pnBuildlist(graph));
  return [dot, list];
}
