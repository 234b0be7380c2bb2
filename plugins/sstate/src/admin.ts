/**
 * `kiln sstate list` and `kiln sstate prune`: which objects a target's tasks have
 * (here, on a mirror, or not at all), and removing old objects from SSTATE_DIR.
 */
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { hasSetscene, type DataStore, type TaskGraph } from "@kiln/core";
import { findOnMirrors, parseMirrors } from "./mirrors.js";
import { compressionFor, objectPath } from "./objects.js";

export interface ObjectRow {
  id: string;
  where: "local" | "mirror" | "missing";
  path: string;
  url?: string;
}

export async function listObjects(graph: TaskGraph, config: DataStore): Promise<ObjectRow[]> {
  const sstateDir = String(config.getVar("SSTATE_DIR") ?? "");
  const rows: ObjectRow[] = [];
  for (const node of graph.nodes) {
    const spec = node.recipe.indexVars?.SSTATE_PKGSPEC;
    if (!hasSetscene(node) || spec === undefined || !node.taskhash) continue;
    const name = node.recipe.tasks.find((t) => t.name === node.task)?.flags["sstate-name"] || node.task;
    const path = objectPath(sstateDir, spec, node.taskhash, name, compressionFor(config));
    rows.push({ id: node.id, where: existsSync(path) ? "local" : "missing", path });
  }
  const missing = rows.filter((r) => r.where === "missing");
  const found = await findOnMirrors(
    missing.map((r) => ({ key: r, rel: relative(sstateDir, r.path) })),
    parseMirrors(config.getVar("SSTATE_MIRRORS")),
  );
  for (const [row, url] of found) {
    row.where = "mirror";
    row.url = url;
  }
  return rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

interface StoredObject {
  path: string;
  /** Everything in the name but the hash: objects of one recipe task share it. */
  family: string;
  mtime: number;
}

function storedObjects(sstateDir: string): StoredObject[] {
  if (!existsSync(sstateDir)) return [];
  const out: StoredObject[] = [];
  for (const rel of readdirSync(sstateDir, { recursive: true }).map(String)) {
    if (!rel.endsWith(".tar.zst") && !rel.endsWith(".tar.xz")) continue;
    const path = join(sstateDir, rel);
    const name = rel.slice(rel.lastIndexOf("/") + 1);
    out.push({ path, family: name.replace(/[0-9a-f]{64}_/, "_"), mtime: statSync(path).mtimeMs });
  }
  return out;
}

/** Remove objects (with their `.sha256`) older than a number of days, or all but the newest of each recipe task. */
export function pruneObjects(sstateDir: string, how: { olderThanDays?: number; keepLatest?: boolean }, now = Date.now()): string[] {
  const objects = storedObjects(sstateDir);
  const doomed = new Set<StoredObject>();
  if (how.olderThanDays !== undefined) {
    const limit = now - how.olderThanDays * 86_400_000;
    for (const o of objects) if (o.mtime < limit) doomed.add(o);
  }
  if (how.keepLatest) {
    const families = new Map<string, StoredObject[]>();
    for (const o of objects) families.set(o.family, [...(families.get(o.family) ?? []), o]);
    for (const list of families.values()) for (const o of list.sort((a, b) => b.mtime - a.mtime).slice(1)) doomed.add(o);
  }
  for (const o of doomed) {
    rmSync(o.path, { force: true });
    rmSync(`${o.path}.sha256`, { force: true });
    rmSync(`${o.path}.siginfo`, { force: true });
    rmSync(`${o.path}.sig`, { force: true });
  }
  return [...doomed].map((o) => o.path).sort();
}
