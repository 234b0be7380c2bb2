/**
 * Writing deterministic tar streams (shared state objects, packages): members in
 * sorted order, owned by root (uid/gid 0, names "root"), mtimes clamped to one
 * given time, no access/change times — so the same tree gives the same bytes.
 */
import { createReadStream, lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { once } from "node:events";
import tar from "tar-stream";

export interface TreeMember {
  /** Name inside the archive. */
  name: string;
  /** Where it is on disk (unused for `content` members). */
  path: string;
  type: "file" | "directory" | "symlink";
  mode: number;
  linkname?: string;
  /** In-memory content instead of the file at `path`. */
  content?: Buffer;
  /** A file's size in bytes as listed (default: lstat when it is packed). */
  size?: number;
}

export interface PackTarOptions {
  /** A file member's bytes, exactly `size` of them (default: the file at its path). */
  content?: (member: TreeMember & { size: number }) => AsyncIterable<Buffer>;
}

/**
 * Files up to this size are read in one synchronous call into a buffer of their size; larger ones
 * stream in chunks of this size. (A read stream allocates its full highWaterMark per
 * read, and once more to see the end: with 1 MiB chunks that was ~2 MiB of garbage per
 * small file, and GC took more CPU than tar and md5 together.)
 */
export const WHOLE_FILE = 1 << 20;

/**
 * The content of the regular file `path` of `size` bytes (as listed), in chunks. Reads
 * are bounded by `size`; a file that is not `size` bytes when read (changed while being
 * archived) is an error, since the tar header already promised that size.
 */
export async function* fileChunks(path: string, size: number): AsyncGenerator<Buffer> {
  let seen = 0;
  if (size <= WHOLE_FILE) {
    // synchronously: an async read is four thread-pool round trips (open, fstat, read,
    // close), and for thousands of small files that waiting was most of a tar's time
    const content = readFileSync(path);
    seen = content.length;
    yield content;
  } else {
    for await (const c of createReadStream(path, { highWaterMark: WHOLE_FILE, start: 0, end: size - 1 }) as AsyncIterable<Buffer>) {
      seen += c.length;
      yield c;
    }
  }
  if (seen !== size) throw new Error(`${path} changed while it was being archived (${size} bytes listed, ${seen} read)`);
}

/**
 * One tar entry from `chunks`, with backpressure. Not `pipeline()`: a read error would
 * destroy the entry and with it the whole pack, before the caller could add context.
 */
async function writeEntry(pack: tar.Pack, header: Partial<tar.Header> & Pick<tar.Header, "name">, chunks: AsyncIterable<Buffer>): Promise<void> {
  const entry = pack.entry(header);
  // A failure reaches the reader through the pack, which destroys this entry with it.
  entry.on("error", () => {});
  for await (const c of chunks) if (!entry.write(c)) await once(entry, "drain");
  await new Promise<void>((resolve, reject) => entry.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

/** The members under `dir`, sorted, named `${prefix}/${relative}` (directories get a trailing `/` when `slashDirs`). */
export function treeMembers(dir: string, prefix: string, options: { slashDirs?: boolean } = {}): TreeMember[] {
  const out: TreeMember[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const path = join(dir, r);
      const st = lstatSync(path);
      const member = prefix ? `${prefix}/${r}` : r;
      if (st.isSymbolicLink()) out.push({ name: member, path, type: "symlink", mode: 0o777, linkname: readlinkSync(path) });
      else if (st.isDirectory()) {
        out.push({ name: options.slashDirs ? `${member}/` : member, path, type: "directory", mode: st.mode & 0o7777 });
        walk(r);
      } else if (st.isFile()) out.push({ name: member, path, type: "file", mode: st.mode & 0o7777 });
    }
  };
  walk("");
  return out;
}

/** A tar stream of `members` (in the order given), every header normalised. */
export function packTar(members: TreeMember[], mtimeSeconds: number, options: PackTarOptions = {}): NodeJS.ReadableStream {
  const pack = tar.pack();
  const mtime = new Date(mtimeSeconds * 1000);
  void (async () => {
    try {
      for (const m of members) {
        const header = { name: m.name, mode: m.mode, mtime, uid: 0, gid: 0, uname: "root", gname: "root" };
        if (m.type === "directory") pack.entry({ ...header, type: "directory" });
        else if (m.type === "symlink") pack.entry({ ...header, type: "symlink", linkname: m.linkname });
        else if (m.content) {
          const content = m.content;
          await new Promise<void>((resolve, reject) => pack.entry({ ...header, type: "file", size: content.length }, content, (err) => (err ? reject(err) : resolve())));
        } else {
          const size = m.size ?? lstatSync(m.path).size;
          await writeEntry(pack, { ...header, type: "file", size }, options.content ? options.content({ ...m, size }) : fileChunks(m.path, size));
        }
      }
      pack.finalize();
    } catch (err) {
      pack.destroy(err as Error);
    }
  })();
  return pack as unknown as NodeJS.ReadableStream;
}
