/**
 * Installing a task's output into a shared tree (a sysroot, a deploy directory)
 * with a manifest of every path it put there, so the next version of the task can
 * remove exactly those first, and two recipes installing the same path are caught.
 */
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmdirSync, rmSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { KilnError } from "@kiln/core";
import { tempName, writeJsonAtomic } from "./files.js";

export interface Manifest {
  /** `PN:do_task` that installed the files. */
  owner: string;
  taskhash: string;
  /** Absolute paths of installed files and links (not directories). */
  files: string[];
}

export function readManifest(path: string): Manifest | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Manifest;
  } catch {
    return undefined;
  }
}

/** Remove what a manifest lists (and directories left empty), then the manifest. */
export function removeInstalled(manifestPath: string): void {
  const m = readManifest(manifestPath);
  if (m) {
    const dirs = new Set<string>();
    for (const f of m.files) {
      rmSync(f, { force: true });
      dirs.add(dirname(f));
    }
    // deepest first; a directory something else still uses stays
    for (const d of [...dirs].sort((a, b) => b.length - a.length)) {
      try {
        rmdirSync(d);
      } catch {
        // not empty, or gone
      }
    }
  }
  rmSync(manifestPath, { force: true });
}

function listFiles(dir: string, rel = "", out: string[] = []): string[] {
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const r = rel ? join(rel, name) : name;
    const st = lstatSync(join(dir, r));
    if (st.isDirectory() && !st.isSymbolicLink()) listFiles(dir, r, out);
    else out.push(r);
  }
  return out;
}

/** Which manifest (other than `except`) lists each path, for conflict messages. */
function owners(manifestsDir: string, except: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!existsSync(manifestsDir)) return out;
  for (const name of readdirSync(manifestsDir)) {
    const path = join(manifestsDir, name);
    if (path === except || !name.startsWith("manifest-")) continue;
    const m = readManifest(path);
    if (m) for (const f of m.files) out.set(f, m.owner);
  }
  return out;
}

/**
 * Copy `src` into `dest` and record every path in a new manifest. A path another
 * task's manifest holds is an error naming both (unless `allowed` lists it).
 */
export function installTree(src: string, dest: string, manifestPath: string, owner: string, taskhash: string, allowed: (path: string) => boolean = () => false): void {
  const files = existsSync(src) ? listFiles(src) : [];
  const taken = owners(dirname(manifestPath), manifestPath);
  for (const rel of files) {
    const target = join(dest, rel);
    const other = taken.get(target);
    if (other && other !== owner && !allowed(target)) {
      throw new KilnError("FATAL", `${owner} installs ${target}, which ${other} already installed`, {
        hint: "two recipes must not install the same path into a shared tree",
      });
    }
  }
  // the manifest goes first, so files of an install cut short are still known (and removed next
  // time); each file goes in under a temp name and is renamed, so none is ever half-written
  const installed = files.map((rel) => join(dest, rel));
  writeJsonAtomic(manifestPath, { owner, taskhash, files: installed } satisfies Manifest);
  for (const rel of files) {
    const from = join(src, rel);
    const target = join(dest, rel);
    mkdirSync(dirname(target), { recursive: true });
    const tmp = tempName(target);
    try {
      if (lstatSync(from).isSymbolicLink()) symlinkSync(readlinkSync(from), tmp);
      else copyFileSync(from, tmp);
      renameSync(tmp, target);
    } finally {
      rmSync(tmp, { force: true });
    }
  }
}
