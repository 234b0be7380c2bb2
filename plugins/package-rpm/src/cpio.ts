/**
 * The pieces of a cpio "newc" (070701) archive, rpm's payload format: a 110-byte
 * ASCII header (13 fields of 8 hex digits), the NUL-terminated name, padding to 4
 * bytes, the data, padding to 4 bytes; a "TRAILER!!!" entry ends the archive.
 * Owner, group and devices are always 0: the rpm header says who owns what.
 */

export interface CpioMember {
  name: string;
  ino: number;
  /** st_mode: file type bits and permissions. */
  mode: number;
  nlink: number;
  mtime: number;
  size: number;
}

const MAGIC = "070701";
/** newc's size field has 8 hex digits: larger files need rpm's own "07070X" variant, not written here. */
export const CPIO_MAX_SIZE = 0xffffffff;
const HEADER_SIZE = 110;

/** Zero bytes that bring `length` up to a multiple of 4. */
export const cpioPadding = (length: number): Buffer => Buffer.alloc((4 - (length % 4)) % 4);

/** A member's header, name and name padding; its data (and `cpioPadding(size)`) follow. */
export function cpioHeader(m: CpioMember): Buffer {
  const name = Buffer.from(`${m.name}\0`);
  const fields = [m.ino, m.mode, 0, 0, m.nlink, m.mtime, m.size, 0, 0, 0, 0, name.length, 0];
  const header = Buffer.from(MAGIC + fields.map((f) => f.toString(16).padStart(8, "0")).join(""), "ascii");
  return Buffer.concat([header, name, cpioPadding(HEADER_SIZE + name.length)]);
}

export const CPIO_TRAILER: Buffer = cpioHeader({ name: "TRAILER!!!", ino: 0, mode: 0, nlink: 1, mtime: 0, size: 0 });
