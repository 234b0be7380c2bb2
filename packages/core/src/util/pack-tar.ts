/**
 * Writing deterministic tar streams (shared state objects, packages): members in
 * sorted order, owned by root (uid/gid 0, names "root"), mtimes clamped to one
 * given time, no access/change times — so the same tree gives the same bytes.
 */
import { closeSync, createReadStream, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, readSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { tarHeader } from "./tar-header.js";

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
  /** Sees each file member's content as it is packed, chunk by chunk, then `null` at its end (an md5 taken on the way). */
  observe?(member: TreeMember, chunk: Buffer | null): void;
  /** The error for a file member that cannot be read (default: the cause, its path prefixed). */
  readError?(member: TreeMember, cause: Error): Error;
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

/** The end of an archive: two zero blocks. */
const END_OF_TAR = Buffer.alloc(1024);
/** What packTar hands on at a time: small members are gathered into pieces of about this size. */
const PIECE = 1 << 20;

const padding = (size: number) => ZEROS.subarray(0, (512 - (size % 512)) % 512);
const ZEROS = Buffer.alloc(512);

/**
 * A tar stream of `members` (in the order given), every header normalised (see
 * tar-header.ts: the bytes tar-stream wrote before). Built synchronously, about a MiB
 * at a time as the reader asks: small files are read whole, larger ones in chunks. (With
 * tar-stream, each member cost several event-loop turns; a 6,500-file root filesystem
 * took 0.5 s to pack, GNU tar 0.1 s.)
 */
export function packTar(members: TreeMember[], mtimeSeconds: number, options: PackTarOptions = {}): NodeJS.ReadableStream {
  let next = 0;
  /** A large file being read in chunks. */
  let open: { member: TreeMember; fd: number; size: number; seen: number } | undefined;
  const closeOpen = () => {
    if (open) closeSync(open.fd);
    open = undefined;
  };
  const fail = (m: TreeMember, cause: unknown): Error => {
    const err = cause instanceof Error ? cause : new Error(String(cause));
    return options.readError ? options.readError(m, err) : new Error(`${m.path}: ${err.message}`, { cause: err });
  };
  const changed = (m: TreeMember, size: number, seen: number) => new Error(`${m.path} changed while it was being archived (${size} bytes listed, ${seen} read)`);
  return new Readable({
    highWaterMark: PIECE,
    read() {
      const parts: Buffer[] = [];
      let length = 0;
      const add = (b: Buffer) => {
        if (b.length) parts.push(b);
        length += b.length;
      };
      let member: TreeMember | undefined;
      try {
        while (length < PIECE) {
          if (open) {
            member = open.member;
            const chunk = Buffer.allocUnsafe(Math.min(WHOLE_FILE, open.size - open.seen));
            const n = readSync(open.fd, chunk, 0, chunk.length, open.seen);
            if (n === 0) throw changed(open.member, open.size, open.seen);
            const got = n === chunk.length ? chunk : chunk.subarray(0, n);
            open.seen += n;
            options.observe?.(open.member, got);
            add(got);
            if (open.seen === open.size) {
              // more past the listed size: the file grew
              if (readSync(open.fd, Buffer.alloc(1), 0, 1, open.seen) !== 0) throw changed(open.member, open.size, open.seen + 1);
              options.observe?.(open.member, null);
              add(padding(open.size));
              closeOpen();
            }
            continue;
          }
          if (next === members.length) {
            add(END_OF_TAR);
            this.push(Buffer.concat(parts, length));
            this.push(null);
            return;
          }
          const m = (member = members[next++]);
          if (m.type !== "file") {
            for (const b of tarHeader({ name: m.name, mode: m.mode, mtime: mtimeSeconds, type: m.type, linkname: m.linkname, size: 0 })) add(b);
            continue;
          }
          const size = m.content ? m.content.length : (m.size ?? lstatSync(m.path).size);
          for (const b of tarHeader({ name: m.name, mode: m.mode, mtime: mtimeSeconds, type: "file", size })) add(b);
          if (m.content) {
            add(m.content);
            add(padding(size));
          } else if (size <= WHOLE_FILE) {
            // in one synchronous call: an async read is four thread-pool round trips
            const content = readFileSync(m.path);
            if (content.length !== size) throw changed(m, size, content.length);
            options.observe?.(m, content);
            options.observe?.(m, null);
            add(content);
            add(padding(size));
          } else {
            open = { member: m, fd: openSync(m.path, "r"), size, seen: 0 };
          }
        }
        this.push(parts.length === 1 ? parts[0] : Buffer.concat(parts, length));
      } catch (err) {
        closeOpen();
        this.destroy(member ? fail(member, err) : (err as Error));
      }
    },
    destroy(err, callback) {
      closeOpen();
      callback(err);
    },
  });
}
