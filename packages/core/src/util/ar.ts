/**
 * The `ar` archives .deb and .ipk packages are made of ("!<arch>\n", then per
 * member a 60-byte header and the data padded to an even length). Read whole:
 * packages are small, and a malformed header is an error naming the archive.
 */
import { KilnError } from "../errors.js";

export interface ArMember {
  name: string;
  data: Buffer;
}

export function readAr(buf: Buffer, what: string): ArMember[] {
  if (buf.subarray(0, 8).toString("latin1") !== "!<arch>\n") throw new KilnError("FATAL", `${what} is not an ar archive`);
  const out: ArMember[] = [];
  let at = 8;
  while (at + 60 <= buf.length) {
    const header = buf.subarray(at, at + 60).toString("latin1");
    if (header.slice(58, 60) !== "`\n") throw new KilnError("FATAL", `${what}: bad ar member header at offset ${at}`);
    const name = header.slice(0, 16).trim().replace(/\/$/, "");
    const size = Number.parseInt(header.slice(48, 58).trim(), 10);
    if (!Number.isInteger(size) || size < 0 || at + 60 + size > buf.length) throw new KilnError("FATAL", `${what}: ar member '${name}' runs past the end`);
    out.push({ name, data: buf.subarray(at + 60, at + 60 + size) });
    at += 60 + size + (size % 2);
  }
  return out;
}
