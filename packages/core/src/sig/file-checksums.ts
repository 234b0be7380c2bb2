/**
 * Files whose content goes into task hashes: local `file://` entries of SRC_URI
 * (for do_fetch, as OpenEmbedded's `do_fetch[file-checksums]`), found along
 * FILESEXTRAPATHS then FILESPATH, and each task's `[file-checksums]` entries
 * (`path` or BitBake's `path:True|False`). The list is fixed at parse time; the
 * checksums are taken when hashes are computed, since sources change without the
 * recipe changing. Names are location-independent (`file://fix.patch`, a base
 * name), so moving the tree keeps the hashes; an absent file hashes as absent.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, isAbsolute, join, relative } from "node:path";
import type { DataStore } from "../data/datastore.js";
import { listTasks } from "../parse/recipe.js";

export interface ChecksumFile {
  /** What hashes and explanations show: location-independent. */
  name: string;
  /** Where the file is (or would be) now. */
  path: string;
}

const words = (v: unknown) => (v === undefined || v === null ? [] : String(v).split(/\s+/).filter(Boolean));

/**
 * The directories a `file://` path is looked up in, first match wins: each
 * FILESEXTRAPATHS and FILESPATH entry, preceded by its FILESOVERRIDES
 * subdirectories (later overrides first, as OpenEmbedded's base_set_filespath),
 * so `files/<machine>/x.patch` wins over `files/x.patch`.
 */
export function filesSearchPath(d: DataStore): string[] {
  const base = [...String(d.getVar("FILESEXTRAPATHS") ?? "").split(":"), ...String(d.getVar("FILESPATH") ?? "").split(":")].filter(Boolean);
  const overrides = String(d.getVar("FILESOVERRIDES") ?? "")
    .split(":")
    .filter(Boolean)
    .reverse();
  const out: string[] = [];
  for (const dir of base) {
    for (const o of overrides) out.push(join(dir, o));
    out.push(dir);
  }
  return [...new Set(out)];
}

/** Where a local `file://` path of SRC_URI is, or where it was looked for first. */
export function findLocalFile(d: DataStore, rel: string): string {
  if (isAbsolute(rel)) return rel;
  const dirs = filesSearchPath(d);
  for (const dir of dirs) {
    const p = join(dir, rel);
    if (existsSync(p)) return p;
  }
  return join(dirs[0] ?? ".", rel);
}

export function checksumFiles(d: DataStore): Record<string, ChecksumFile[]> {
  const out: Record<string, ChecksumFile[]> = {};
  const tasks = listTasks(d);
  if (tasks.includes("do_fetch")) {
    for (const entry of words(d.getVar("SRC_URI"))) {
      if (!entry.startsWith("file://")) continue;
      const rel = entry.slice("file://".length).split(";")[0];
      if (!rel) continue;
      (out.do_fetch ??= []).push({ name: `file://${rel}`, path: findLocalFile(d, rel) });
    }
  }
  for (const task of tasks) {
    for (const entry of words(d.getVarFlag(task, "file-checksums"))) {
      // BitBake's entries carry ":True"/":False" (existed when listed); kiln looks again
      const path = entry.replace(/:(True|False)$/, "");
      (out[task] ??= []).push({ name: basename(path), path });
    }
  }
  return out;
}

function hashTree(dir: string, h: ReturnType<typeof createHash>, root: string): void {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) hashTree(p, h, root);
    else {
      h.update(`${relative(root, p)}\u0000`);
      h.update(readFileSync(p));
      h.update("\u0000");
    }
  }
}

/** sha256 of a file (or of a directory's files, by relative path), or null when absent. */
export function fileChecksum(path: string): string | null {
  try {
    const st = statSync(path);
    const h = createHash("sha256");
    if (st.isDirectory()) hashTree(path, h, path);
    else h.update(readFileSync(path));
    return h.digest("hex");
  } catch {
    return null;
  }
}
