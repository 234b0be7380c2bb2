/**
 * Feed indexes for the ar-based formats: `Packages` and `Packages.gz` in each
 * architecture directory, one stanza per package — its control fields, then
 * `Filename`, `Size` and checksums (apt's MD5sum/SHA256, opkg's MD5Sum/SHA256sum).
 * Rebuilt from the packages in the directory, so it always matches them; written to
 * temp names and renamed, under a lock shared by every task writing there.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { loadTarStream, readAr, withLocks, writeAtomicSync } from "@kiln/core";
import { decompress } from "./compress.js";

/** The `control` file of a .deb/.ipk. */
export async function readControl(file: string): Promise<string> {
  const members = readAr(readFileSync(file), file);
  const member = members.find((m) => m.name.startsWith("control.tar"));
  if (!member) throw new Error(`${file} has no control.tar member`);
  const tarBytes = await decompress(member.data, member.name.slice("control.tar".length).replace(/^\./, ""));
  const tar = await loadTarStream();
  return new Promise((resolve, reject) => {
    const extract = tar.extract();
    let control: string | undefined;
    extract.on("entry", (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c: unknown) => chunks.push(c as Buffer));
      stream.on("end", () => {
        if (header.name.replace(/^\.\//, "") === "control") control = Buffer.concat(chunks).toString("utf8");
        next();
      });
    });
    extract.on("finish", () => (control === undefined ? reject(new Error(`${file}: no control file in ${member.name}`)) : resolve(control)));
    extract.on("error", reject);
    extract.end(tarBytes);
  });
}

export type IndexFlavour = "apt" | "opkg";


export async function writeFeedIndex(dir: string, extension: string, flavour: IndexFlavour): Promise<void> {
  if (!existsSync(dir)) return;
  await withLocks([join(dir, ".index.lock")], async () => {
    const stanzas: string[] = [];
    for (const name of readdirSync(dir).filter((f) => f.endsWith(extension)).sort()) {
      const file = join(dir, name);
      const bytes = readFileSync(file);
      const md5 = createHash("md5").update(bytes).digest("hex");
      const sha256 = createHash("sha256").update(bytes).digest("hex");
      const sums = flavour === "apt" ? `MD5sum: ${md5}\nSHA256: ${sha256}\n` : `MD5Sum: ${md5}\nSHA256sum: ${sha256}\n`;
      const filename = flavour === "apt" ? `./${name}` : name;
      stanzas.push(`${(await readControl(file)).replace(/\n*$/, "\n")}Filename: ${filename}\nSize: ${bytes.length}\n${sums}`);
    }
    const text = stanzas.join("\n");
    writeAtomicSync(join(dir, "Packages"), text);
    writeAtomicSync(join(dir, "Packages.gz"), gzipSync(text, { level: 9 }));
  });
}
