/**
 * Reading a package's tree: one walk (lstat, sorted names, parents before children)
 * that splitting and every writer share.
 */
import { lstatSync, readdirSync, type Stats } from "node:fs";
import { join } from "node:path";

export interface WalkEntry {
  /** Path relative to the root, without a leading slash: `usr/bin/x`. */
  rel: string;
  /** Absolute path on disk. */
  path: string;
  /** lstat of the entry: a symlink is itself, not its target. */
  stat: Stats;
}

/**
 * Every entry under `root`, depth first, names sorted, a directory directly followed
 * by what is below it. A missing root is an empty tree (a recipe that installs nothing).
 */
export function walkTree(root: string): WalkEntry[] {
  const out: WalkEntry[] = [];
  const walk = (rel: string, dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (err) {
      if (rel === "" && (err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const path = join(dir, name);
      const stat = lstatSync(path);
      out.push({ rel: r, path, stat });
      if (stat.isDirectory()) walk(r, path);
    }
  };
  walk("", root);
  return out;
}

// The reader of file contents is core's (the rpm writer streams files through it), re-exported here.
export { fileChunks, WHOLE_FILE } from "@kiln/core";
