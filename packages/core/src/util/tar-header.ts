/**
 * Tar headers as kiln's archives have always had them (tar-stream's encoding, which
 * earlier shared state objects and packages were written with, kept byte for byte so
 * their signatures and outputs stay the same): POSIX ustar, numbers as zero-padded
 * octal followed by a space, owner root:root by name and number, and for a name
 * that does not fit ustar's 100 + 155 bytes (or is not ASCII) or a link target over 100
 * bytes, a pax header (`path`, `linkpath`) before a header named `PaxHeader`.
 */

export interface TarHeaderFields {
  name: string;
  /** Permission bits; 0 means the default, 0755 for a directory, else 0644 (as tar-stream). */
  mode: number;
  /** Seconds since the epoch. */
  mtime: number;
  type: "file" | "directory" | "symlink";
  size: number;
  linkname?: string;
}

const TYPE_FLAG = { file: "0", directory: "5", symlink: "2" } as const;

const octal = (value: number, digits: number): string => {
  const s = value.toString(8);
  return s.length > digits ? `${"7".repeat(digits)} ` : `${s.padStart(digits, "0")} `;
};

function block(name: string, prefix: string, flag: string, f: { mode: number; mtime: number; size: number; linkname?: string }): Buffer {
  const buf = Buffer.alloc(512);
  buf.write(name, 0);
  buf.write(octal(f.mode & 0o7777, 6), 100);
  buf.write(octal(0, 6), 108);
  buf.write(octal(0, 6), 116);
  if (f.size.toString(8).length > 11) {
    // base-256 (GNU), for members of 8 GiB and more
    buf[124] = 0x80;
    let n = f.size;
    for (let i = 11; i > 0; i--) {
      buf[124 + i] = n % 256;
      n = Math.floor(n / 256);
    }
  } else buf.write(octal(f.size, 11), 124);
  buf.write(octal(Math.trunc(f.mtime), 11), 136);
  buf.write(flag, 156, "latin1");
  if (f.linkname) buf.write(f.linkname, 157);
  buf.write("ustar\u000000", 257, "latin1");
  buf.write("root", 265);
  buf.write("root", 297);
  buf.write(octal(0, 6), 329);
  buf.write(octal(0, 6), 337);
  if (prefix) buf.write(prefix, 345);
  let sum = 8 * 32;
  for (let i = 0; i < 148; i++) sum += buf[i];
  for (let i = 156; i < 512; i++) sum += buf[i];
  buf.write(octal(sum, 6), 148);
  return buf;
}

/** `name` as ustar's name + prefix, or undefined when it does not fit (or is not ASCII). */
function ustarName(name: string): [string, string] | undefined {
  if (Buffer.byteLength(name) !== name.length) return undefined;
  let prefix = "";
  while (name.length > 100) {
    const i = name.indexOf("/");
    if (i === -1) return undefined;
    prefix += prefix ? `/${name.slice(0, i)}` : name.slice(0, i);
    name = name.slice(i + 1);
  }
  return prefix.length > 155 ? undefined : [name, prefix];
}

/** A pax record: its length (counting itself) in decimal, then ` key=value\n`. */
function paxRecord(record: string): string {
  const len = Buffer.byteLength(record);
  let digits = Math.floor(Math.log10(len)) + 1;
  if (len + digits >= 10 ** digits) digits++;
  return `${len + digits}${record}`;
}

/** The header block(s) of one member; the content and its padding follow them. */
export function tarHeader(h: TarHeaderFields): Buffer[] {
  const f = { mode: h.mode || (h.type === "directory" ? 0o755 : 0o644), mtime: h.mtime, size: h.type === "file" ? h.size : 0, linkname: h.linkname };
  const fits = ustarName(h.name);
  if (fits && !(h.linkname && Buffer.byteLength(h.linkname) > 100)) return [block(fits[0], fits[1], TYPE_FLAG[h.type], f)];
  const pax = Buffer.from(paxRecord(` path=${h.name}\n`) + (h.linkname ? paxRecord(` linkpath=${h.linkname}\n`) : ""));
  const linkname = h.linkname ? "PaxHeader" : undefined;
  return [
    block("PaxHeader", "", "x", { ...f, size: pax.length, linkname }),
    pax,
    Buffer.alloc((512 - (pax.length % 512)) % 512),
    block("PaxHeader", "", TYPE_FLAG[h.type], { ...f, linkname }),
  ];
}
