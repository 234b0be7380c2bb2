/**
 * A Packages index to DebianPackage records: stanzas split on blank lines and parsed
 * with debian-control (resolve.ts's buildUniverse keeps the newest of each name). The records of one index text are cached under its sha256 (CACHE dir),
 * so a later parse with the same index reads one file instead of parsing 60,000
 * stanzas again.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { deserialize, serialize } from "node:v8";
import { KilnError } from "@kiln/core";
import { parse as parseControl } from "debian-control";
import { writeAtomic } from "./archive.js";
import type { DebianPackage } from "./types.js";

/** Bump when DebianPackage or the parsing changes: old caches are then ignored. */
const CACHE_FORMAT = "kiln-debian-index-3";


const one = (v: string | string[] | undefined): string => (v === undefined ? "" : Array.isArray(v) ? v.join(" ").trim() : v.trim());

/** One stanza's fields as a DebianPackage; `where` names it in errors. */
export function stanzaPackage(fields: Record<string, string | string[]>, where: string): DebianPackage {
  const name = one(fields.Package);
  const version = one(fields.Version);
  if (!name || !version) throw new KilnError("PARSE_ERROR", `${where}: a stanza without Package or Version`, { hint: "the index is damaged" });
  const description = fields.Description;
  return {
    name,
    version,
    arch: one(fields.Architecture),
    filename: one(fields.Filename),
    sha256: one(fields.SHA256).toLowerCase(),
    size: Number(one(fields.Size)) || 0,
    installedSize: Number(one(fields["Installed-Size"])) || 0,
    depends: one(fields.Depends),
    preDepends: one(fields["Pre-Depends"]),
    recommends: one(fields.Recommends),
    provides: one(fields.Provides),
    conflicts: one(fields.Conflicts),
    breaks: one(fields.Breaks),
    essential: one(fields.Essential).toLowerCase() === "yes",
    priority: one(fields.Priority),
    multiArch: one(fields["Multi-Arch"]),
    section: one(fields.Section),
    source: one(fields.Source).replace(/\s*\(.*\)$/, "") || name,
    summary: (Array.isArray(description) ? description[0] : description ?? "").trim(),
  };
}

/** Every stanza of a Packages text (all versions), in file order. */
export function parsePackages(text: string, where: string): DebianPackage[] {
  const out: DebianPackage[] = [];
  let line = 1;
  for (const stanza of text.split("\n\n")) {
    if (stanza.trim() !== "") out.push(stanzaPackage(parseControl(stanza), `${where}:${line}`));
    for (let i = stanza.indexOf("\n"); i >= 0; i = stanza.indexOf("\n", i + 1)) line++;
    line += 2;
  }
  return out;
}

/** v8's serializer: it reads 60,000 records back in half the time JSON.parse takes. */
function encode(pkgs: DebianPackage[]): Buffer {
  return serialize({ format: CACHE_FORMAT, packages: pkgs });
}

function decode(data: Buffer): DebianPackage[] | undefined {
  const parsed = deserialize(data) as { format?: string; packages?: DebianPackage[] };
  return parsed.format === CACHE_FORMAT && Array.isArray(parsed.packages) ? parsed.packages : undefined;
}

/**
 * The records of the index whose text has sha256 `key`: from the cache in `cacheDir`
 * when there, else `text()` parsed and cached.
 */
export async function indexRecords(cacheDir: string, key: string, where: string, text: () => Promise<string>): Promise<DebianPackage[]> {
  const file = join(cacheDir, "debian", `${key}.v8`);
  if (existsSync(file)) {
    try {
      const cached = decode(readFileSync(file));
      if (cached) return cached;
    } catch {
      // a damaged cache is rebuilt below
    }
  }
  const pkgs = parsePackages(await text(), where);
  writeAtomic(file, encode(pkgs));
  return pkgs;
}
