/**
 * Writing deterministic tar streams (shared state objects, packages): members in
 * sorted order, owned by root (uid/gid 0, names "root"), mtimes clamped to one
 * given time, no access/change times — so the same tree gives the same bytes.
 */
import { closeSync, createReadStream, fstatSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, readSync } from "node:fs";
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

/** The members under `dir`, sorted, named `${prefix}/${relative}` (directories get a trailing `/` when `slashDirs`), files with the size seen. */
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
      } else if (st.isFile()) out.push({ name: member, path, type: "file", mode: st.mode & 0o7777, size: st.size });
    }
  };
  walk("");
  return out;
}

/** What packTar hands on at a time, filled in place: headers, and file contents read straight into it. */
const PIECE = 1 << 20;

/**
 * A tar stream of `members` (in the order given), every header normalised (see
 * tar-header.ts: the bytes tar-stream wrote before). Built synchronously a MiB piece
 * at a time, as the reader asks: headers are copied in and file contents read straight
 * into the piece, one copy from the page cache, as GNU tar does. (With tar-stream each
 * member cost several event-loop turns and each byte three copies: a 6,500-file root
 * filesystem took 0.5 s to pack, and feeding a compressor on the same cores slowed it.)
 */
export function packTar(members: TreeMember[], mtimeSeconds: number, options: PackTarOptions = {}): NodeJS.ReadableStream {
  let next = 0;
  /** The file member whose content is being copied in. */
  let open: { member: TreeMember; fd: number; content?: Buffer; size: number; seen: number } | undefined;
  let ended = false;
  const closeOpen = () => {
    if (open && open.fd >= 0) closeSync(open.fd);
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
      let piece = Buffer.allocUnsafe(PIECE);
      let at = 0;
      /** Room for `n` more bytes: what the piece holds so far goes out first when they do not fit. */
      const room = (n: number) => {
        if (at + n <= piece.length) return;
        if (at) this.push(piece.subarray(0, at));
        piece = Buffer.allocUnsafe(Math.max(PIECE, n));
        at = 0;
      };
      let member: TreeMember | undefined;
      try {
        while (at < piece.length && !ended) {
          if (open) {
            // content starts block-aligned and pieces are whole blocks, so it only ends
            // at a piece's end when it needs no padding
            member = open.member;
            const want = Math.min(piece.length - at, open.size - open.seen);
            let n: number;
            if (open.content) n = open.content.copy(piece, at, open.seen, open.seen + want);
            else {
              n = readSync(open.fd, piece, at, want, open.seen);
              if (n === 0) throw changed(open.member, open.size, open.seen);
              options.observe?.(open.member, piece.subarray(at, at + n));
            }
            at += n;
            open.seen += n;
            if (open.seen < open.size) continue;
            if (!open.content) options.observe?.(open.member, null);
            closeOpen();
            const padding = (512 - (at % 512)) % 512;
            piece.fill(0, at, at + padding);
            at += padding;
            continue;
          }
          if (next === members.length) {
            room(1024);
            piece.fill(0, at, at + 1024); // end of archive: two zero blocks
            at += 1024;
            ended = true;
            break;
          }
          const m = (member = members[next++]);
          let size = 0;
          if (m.type === "file") {
            if (m.content) {
              size = m.content.length;
              open = { member: m, fd: -1, content: m.content, size, seen: 0 };
            } else {
              open = { member: m, fd: openSync(m.path, "r"), size: 0, seen: 0 };
              const actual = fstatSync(open.fd).size;
              size = open.size = m.size ?? actual;
              if (actual !== size) throw changed(m, size, actual);
            }
          }
          const header = tarHeader({ name: m.name, mode: m.mode, mtime: mtimeSeconds, type: m.type, linkname: m.linkname, size });
          room(header.reduce((n, b) => n + b.length, 0));
          for (const b of header) at += b.copy(piece, at);
          if (open?.size === 0) {
            if (!open.content) options.observe?.(open.member, null);
            closeOpen();
          }
        }
        this.push(at === piece.length ? piece : piece.subarray(0, at));
        if (ended) this.push(null);
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
