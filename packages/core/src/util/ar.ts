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

/** An ar archive of `members` as dpkg-deb writes one (owner 0, mode 100644, one mtime). */
export function writeAr(members: ArMember[], mtimeSeconds: number): Buffer {
  const parts: Buffer[] = [Buffer.from("!<arch>\n", "latin1")];
  for (const m of members) {
    if (m.name.length > 16) throw new KilnError("FATAL", `ar member name '${m.name}' is longer than 16 characters`);
    const header =
      m.name.padEnd(16) + String(mtimeSeconds).padEnd(12) + "0".padEnd(6) + "0".padEnd(6) + "100644".padEnd(8) + String(m.data.length).padEnd(10) + "`\n";
    parts.push(Buffer.from(header, "latin1"), m.data);
    if (m.data.length % 2) parts.push(Buffer.from("\n"));
  }
  return Buffer.concat(parts);
}
