/**
 * Reading a tar archive that is already in memory, synchronously: each member's header
 * with its content as a view into the archive (no copy). For package payloads, which
 * kiln decompresses whole before unpacking: tar-stream's streaming parser copied every
 * file into chunks and cost a promise round trip per member, which for a root
 * filesystem's thousands of files was most of the unpacking's CPU.
 *
 * Formats: POSIX ustar (with its name prefix), GNU (long names and link targets as
 * `L`/`K` members, base-256 numbers) and pax extended headers (`x` per member, `g`
 * global: path, linkpath, size, mtime, uid, gid). Header checksums are checked; a
 * member running past the end of the data is an error. The first all-zero block ends
 * the archive, as in GNU tar.
 */

export type TarType = "file" | "link" | "symlink" | "character-device" | "block-device" | "directory" | "fifo" | "contiguous-file" | "unknown";

export interface TarEntry {
  name: string;
  type: TarType;
  /** The type flag as written (for an error naming an unsupported type). */
  flag: string;
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch (pax headers may give fractions). */
  mtime: number;
  size: number;
  linkname: string;
  /** The member's content: a view into the archive, valid as long as it is. */
  body: Buffer;
}

const BLOCK = 512;
const TYPES: Record<string, TarType> = {
  "0": "file",
  "\0": "file",
  "1": "link",
  "2": "symlink",
  "3": "character-device",
  "4": "block-device",
  "5": "directory",
  "6": "fifo",
  "7": "contiguous-file",
};

export class TarFormatError extends Error {}

function text(buf: Buffer, start: number, end: number): string {
  // searched within the field only: indexOf over the rest of the archive made this quadratic
  const nul = buf.subarray(start, end).indexOf(0);
  return buf.toString("utf8", start, nul >= 0 ? start + nul : end);
}

/** An octal field (NUL- or space-terminated), or GNU's base-256 (high bit of the first byte set). */
function number(buf: Buffer, start: number, end: number, what: string, at: number): number {
  if (buf[start] & 0x80) {
    let n = buf[start] & 0x7f;
    for (let i = start + 1; i < end; i++) n = n * 256 + buf[i];
    return n;
  }
  let n = 0;
  let i = start;
  while (i < end && buf[i] === 0x20) i++;
  for (; i < end; i++) {
    const c = buf[i];
    if (c === 0 || c === 0x20) break;
    if (c < 0x30 || c > 0x37) throw new TarFormatError(`bad ${what} field in the header at offset ${at}`);
    n = n * 8 + (c - 0x30);
  }
  return n;
}

function checksumOk(buf: Buffer, at: number): boolean {
  const stored = number(buf, at + 148, at + 156, "checksum", at);
  // the checksum field itself counts as 8 spaces; the signed sum (old tars) differs
  // from the unsigned one by 256 for each byte above 127
  let unsigned = 8 * 0x20;
  let high = 0;
  for (let i = at; i < at + 148; i++) {
    const c = buf[i];
    unsigned += c;
    high += c >> 7;
  }
  for (let i = at + 156; i < at + BLOCK; i++) {
    const c = buf[i];
    unsigned += c;
    high += c >> 7;
  }
  return stored === unsigned || stored === unsigned - 256 * high;
}

/** pax records: `<length> <key>=<value>\n`, the length counting the whole record. */
function paxRecords(body: Buffer, at: number): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < body.length) {
    const space = body.indexOf(0x20, i);
    const len = space > i ? Number(body.toString("latin1", i, space)) : Number.NaN;
    if (!Number.isInteger(len) || len <= 0 || i + len > body.length) throw new TarFormatError(`bad pax header record in the member at offset ${at}`);
    const record = body.toString("utf8", space + 1, i + len - 1);
    const eq = record.indexOf("=");
    // an empty value removes the key (the header's own field counts again)
    if (eq > 0) out.set(record.slice(0, eq), record.slice(eq + 1));
    i += len;
  }
  return out;
}

function isZeroBlock(buf: Buffer, at: number): boolean {
  for (let i = at; i < at + BLOCK; i++) if (buf[i] !== 0) return false;
  return true;
}

/** The members of the tar archive `buf`, in order. Throws TarFormatError on a damaged archive. */
export function* tarEntries(buf: Buffer): Generator<TarEntry> {
  let at = 0;
  const global = new Map<string, string>();
  let pax: Map<string, string> | undefined;
  let longName: string | undefined;
  let longLink: string | undefined;
  while (at + BLOCK <= buf.length) {
    if (isZeroBlock(buf, at)) return;
    if (!checksumOk(buf, at)) throw new TarFormatError(`bad header checksum at offset ${at}`);
    const flag = String.fromCharCode(buf[at + 156]);
    let size = number(buf, at + 124, at + 136, "size", at);
    // a pax size is a member's, never that of another extension header
    const ext = pax ?? global;
    const extension = flag === "L" || flag === "K" || flag === "x" || flag === "g";
    if (!extension && ext.get("size")) size = Number(ext.get("size"));
    const start = at + BLOCK;
    if (!Number.isSafeInteger(size) || size < 0 || start + size > buf.length) throw new TarFormatError(`the member at offset ${at} runs past the end of the archive`);
    const body = buf.subarray(start, start + size);
    const next = start + Math.ceil(size / BLOCK) * BLOCK;
    const header = at;
    at = next;
    if (flag === "L" || flag === "K") {
      const value = text(body, 0, body.length);
      if (flag === "L") longName = value;
      else longLink = value;
      continue;
    }
    if (flag === "x" || flag === "g") {
      const records = paxRecords(body, header);
      if (flag === "g") for (const [k, v] of records) global.set(k, v);
      // a global path or linkpath would rename every member: those stay per member
      else pax = new Map([...[...global].filter(([k]) => k !== "path" && k !== "linkpath"), ...records]);
      continue;
    }
    // POSIX ustar's prefix field; GNU's header keeps other things there
    const ustar = buf.toString("latin1", header + 257, header + 263) === "ustar\0";
    const prefix = ustar ? text(buf, header + 345, header + 500) : "";
    const plain = text(buf, header, header + 100);
    const e = pax ?? global;
    const has = (k: string) => Boolean(e.get(k));
    const mtime = has("mtime") ? Number(e.get("mtime")) : number(buf, header + 136, header + 148, "mtime", header);
    // a per-member pax path only: a global one would rename every member
    const name = pax?.get("path") || longName || (prefix ? `${prefix}/${plain}` : plain);
    const entry: TarEntry = {
      name,
      // old tars mark directories by a trailing slash on a regular-file flag
      type: (flag === "0" || flag === "\0") && name.endsWith("/") ? "directory" : (TYPES[flag] ?? "unknown"),
      flag,
      mode: number(buf, header + 100, header + 108, "mode", header),
      uid: has("uid") ? Number(e.get("uid")) : number(buf, header + 108, header + 116, "uid", header),
      gid: has("gid") ? Number(e.get("gid")) : number(buf, header + 116, header + 124, "gid", header),
      mtime,
      size,
      linkname: pax?.get("linkpath") || longLink || text(buf, header + 157, header + 257),
      body,
    };
    pax = undefined;
    longName = undefined;
    longLink = undefined;
    yield entry;
  }
  if (at < buf.length) throw new TarFormatError(`the archive ends inside a header at offset ${at}`);
}
