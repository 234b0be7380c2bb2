/**
 * sstate archives: deterministic tar (members sorted, owner root, mtimes clamped,
 * no access/change times) compressed with zstd, and their safe extraction —
 * every member is checked before anything is written: no absolute path, no `..`,
 * no link pointing out of the destination, only files, directories and symlinks.
 *
 * tar-stream writes and reads the tar in process (so each member is checked by us,
 * not by a tar program); the zstd program compresses zstd (Node 20 has no zstd),
 * lzma-native compresses xz in process.
 */
import { loadExeca, loadTarStream } from "@kiln/core";
import { createReadStream, createWriteStream, lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { extractTarStream } from "@kiln/core";

export interface ArchiveRoot {
  /** The member prefix inside the archive (`inputs/0`). */
  prefix: string;
  /** The directory whose content goes under it. */
  dir: string;
}

interface Member {
  name: string;
  path: string;
  type: "file" | "directory" | "symlink";
  mode: number;
  linkname?: string;
}

function walk(root: ArchiveRoot, rel: string, out: Member[]): void {
  const here = join(root.dir, rel);
  for (const name of readdirSync(here).sort()) {
    const path = join(here, name);
    const r = rel ? `${rel}/${name}` : name;
    const st = lstatSync(path);
    const member = `${root.prefix}/${r}`;
    if (st.isSymbolicLink()) out.push({ name: member, path, type: "symlink", mode: 0o777, linkname: readlinkSync(path) });
    else if (st.isDirectory()) {
      out.push({ name: member, path, type: "directory", mode: st.mode & 0o7777 });
      walk(root, r, out);
    } else if (st.isFile()) out.push({ name: member, path, type: "file", mode: st.mode & 0o7777 });
  }
}

export type Compression = "zstd" | "xz";

/** What the archive's name ends with for a compression. */
export const EXTENSION: Record<Compression, string> = { zstd: "tar.zst", xz: "tar.xz" };

export function compressionOf(file: string): Compression {
  return file.endsWith(".xz") ? "xz" : "zstd";
}

/** A compressing stream: the zstd program, or liblzma in process (lzma-native). */
async function compressor(compression: Compression, level?: number): Promise<{ input: NodeJS.WritableStream; output: NodeJS.ReadableStream; done: Promise<unknown> }> {
  if (compression === "xz") {
    const lzma = (await import("lzma-native")).default;
    const c = lzma.createCompressor({ preset: level ?? 6, threads: 1 });
    return { input: c, output: c, done: Promise.resolve() };
  }
  const zstd = (await loadExeca())("zstd", ["-q", "-c", `-${level ?? 3}`, "-T1"], { stdin: "pipe", stdout: "pipe", buffer: false });
  return { input: zstd.stdin, output: zstd.stdout, done: zstd };
}

async function decompressor(archive: string): Promise<{ output: NodeJS.ReadableStream; done: Promise<unknown> }> {
  if (compressionOf(archive) === "xz") {
    const lzma = (await import("lzma-native")).default;
    const dec = lzma.createDecompressor();
    return { output: createReadStream(archive).pipe(dec), done: Promise.resolve() };
  }
  const unzstd = (await loadExeca())("zstd", ["-q", "-d", "-c", archive], { stdout: "pipe", buffer: false, stdin: "ignore" });
  return { output: unzstd.stdout, done: unzstd };
}

export interface CreateOptions {
  mtime: number;
  level?: number;
  compression?: Compression;
  /** New content for a file (e.g. with the build path replaced), or undefined to keep it. */
  rewrite?: (path: string) => Buffer | undefined;
}

/** The member listing which files were rewritten (BitBake's fixmepath). */
export const FIXMEPATH = "fixmepath";

/** Write `roots` into a zstd-compressed tar at `out` (the caller renames it into place). */
export async function createArchive(roots: ArchiveRoot[], out: string, options: CreateOptions): Promise<void> {
  const members: Member[] = [];
  for (const root of roots) {
    members.push({ name: root.prefix, path: root.dir, type: "directory", mode: 0o755 });
    walk(root, "", members);
  }
  const pack = (await loadTarStream()).pack();
  const mtime = new Date(options.mtime * 1000);
  const rewritten: string[] = [];
  const z = await compressor(options.compression ?? "zstd", options.level);
  const written = pipeline(z.output, createWriteStream(out));
  const feed = (async () => {
    for (const m of members) {
      const header = { name: m.name, mode: m.mode, mtime, uid: 0, gid: 0, uname: "root", gname: "root" };
      if (m.type === "directory") pack.entry({ ...header, type: "directory" });
      else if (m.type === "symlink") pack.entry({ ...header, type: "symlink", linkname: m.linkname });
      else {
        const replaced = options.rewrite?.(m.path);
        if (replaced) {
          rewritten.push(m.name);
          await new Promise<void>((resolve, reject) => pack.entry({ ...header, type: "file", size: replaced.length }, replaced, (err) => (err ? reject(err) : resolve())));
          continue;
        }
        const size = lstatSync(m.path).size;
        const entry = pack.entry({ ...header, type: "file", size });
        await pipeline(createReadStream(m.path), entry);
      }
    }
    if (rewritten.length) {
      const list = Buffer.from(`${rewritten.join("\n")}\n`);
      pack.entry({ name: FIXMEPATH, mode: 0o644, mtime, uid: 0, gid: 0, uname: "root", gname: "root", type: "file", size: list.length }, list);
    }
    pack.finalize();
  })();
  await Promise.all([feed, pipeline(pack, z.input), written, z.done]);
}

/**
 * Extract a compressed tar into `dest` (created; must not exist), refusing members
 * that escape it (core's extractTarStream). On any failure `dest` is removed:
 * nothing half-written is left.
 */
export async function extractArchive(archive: string, dest: string): Promise<void> {
  mkdirSync(dest, { recursive: false });
  try {
    const z = await decompressor(archive);
    await Promise.all([extractTarStream(z.output, dest, `sstate object ${archive}`), z.done]);
  } catch (err) {
    rmSync(dest, { recursive: true, force: true });
    throw err;
  }
}
