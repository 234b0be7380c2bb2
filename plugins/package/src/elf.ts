/**
 * The two facts shared-library dependencies need from an ELF file: its SONAME (a
 * library others can link against) and its NEEDED entries (libraries it loads).
 * Read from the SHT_DYNAMIC section and the string table it links to — 32/64 bit,
 * either byte order. Anything that is not a well-formed ELF gives undefined.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";

export interface ElfDynamic {
  soname?: string;
  needed: string[];
}

const SHT_DYNAMIC = 6;
const DT_NEEDED = 1;
const DT_SONAME = 14;

function readFile(path: string): Buffer | undefined {
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(4);
    if (readSync(fd, head, 0, 4, 0) < 4 || head.toString("latin1") !== "\x7fELF") return undefined;
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(size);
    readSync(fd, buf, 0, size, 0);
    return buf;
  } finally {
    closeSync(fd);
  }
}

export function readElfDynamic(path: string): ElfDynamic | undefined {
  const buf = readFile(path);
  if (!buf || buf.length < 52) return undefined;
  const is64 = buf[4] === 2;
  const le = buf[5] === 1;
  const u16 = (o: number) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const word = (o: number) => (is64 ? Number(le ? buf.readBigUInt64LE(o) : buf.readBigUInt64BE(o)) : u32(o));
  try {
    const shoff = word(is64 ? 0x28 : 0x20);
    const shentsize = u16(is64 ? 0x3a : 0x2e);
    const shnum = u16(is64 ? 0x3c : 0x30);
    const section = (i: number) => {
      const at = shoff + i * shentsize;
      return {
        type: u32(at + 4),
        offset: word(at + (is64 ? 0x18 : 0x10)),
        size: word(at + (is64 ? 0x20 : 0x14)),
        link: u32(at + (is64 ? 0x28 : 0x18)),
      };
    };
    for (let i = 0; i < shnum; i++) {
      const dyn = section(i);
      if (dyn.type !== SHT_DYNAMIC) continue;
      const strtab = section(dyn.link);
      const str = (off: number) => {
        const start = strtab.offset + off;
        const end = buf.indexOf(0, start);
        return buf.toString("utf8", start, end < 0 ? strtab.offset + strtab.size : end);
      };
      const out: ElfDynamic = { needed: [] };
      const entsize = is64 ? 16 : 8;
      for (let at = dyn.offset; at + entsize <= dyn.offset + dyn.size; at += entsize) {
        const tag = word(at);
        if (tag === 0) break;
        const val = word(at + entsize / 2);
        if (tag === DT_NEEDED) out.needed.push(str(val));
        else if (tag === DT_SONAME) out.soname = str(val);
      }
      return out;
    }
    return { needed: [] };
  } catch {
    return undefined; // truncated or inconsistent headers: not something to link against
  }
}
