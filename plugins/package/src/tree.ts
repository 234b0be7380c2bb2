/**
 * Reading a package's tree: one walk (lstat, sorted names, parents before children)
 * that splitting and every writer share, and file contents read in a way that keeps
 * the garbage collector quiet on trees of thousands of small files.
 */
import { createReadStream, lstatSync, readdirSync, type Stats } from "node:fs";
import { readFile } from "node:fs/promises";
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

/**
 * Files up to this size are read in one call into a buffer of their size; larger ones
 * stream in chunks of this size. (A read stream allocates its full highWaterMark per
 * read, and once more to see the end: with 1 MiB chunks that was ~2 MiB of garbage per
 * small file, and GC took more CPU than tar and md5 together.)
 */
export const WHOLE_FILE = 1 << 20;

/**
 * The content of the regular file `path` of `size` bytes (as listed), in chunks. Reads
 * are bounded by `size`; a file that is not `size` bytes when read (changed while being
 * packaged) is an error, since headers already promised that size.
 */
export async function* fileChunks(path: string, size: number): AsyncGenerator<Buffer> {
  let seen = 0;
  if (size <= WHOLE_FILE) {
    const content = await readFile(path);
    seen = content.length;
    yield content;
  } else {
    for await (const c of createReadStream(path, { highWaterMark: WHOLE_FILE, start: 0, end: size - 1 }) as AsyncIterable<Buffer>) {
      seen += c.length;
      yield c;
    }
  }
  if (seen !== size) throw new Error(`${path} changed while it was being packaged (${size} bytes listed, ${seen} read)`);
}
