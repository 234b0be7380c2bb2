/**
 * A Packages index to DebianPackage records: stanzas split on blank lines and parsed
 * with debian-control (resolve.ts's buildUniverse keeps the newest of each name).
 * The records of one index text are cached under its sha256 (CACHE dir), by column,
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
const CACHE_FORMAT = "kiln-debian-index-5";


const one = (v: string | string[] | undefined): string => (v === undefined ? "" : Array.isArray(v) ? v.join(" ").trim() : v.trim());

/** A field of the latin1-decoded index (archive.ts's packagesText) that may hold UTF-8. */
const utf8 = (v: string): string => (/[\x80-\xff]/.test(v) ? Buffer.from(v, "latin1").toString("utf8") : v);

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
    summary: utf8((Array.isArray(description) ? description[0] : description ?? "").trim()),
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

/** The fields of a DebianPackage, in the cache's column order. */
const FIELDS = [
  "name",
  "version",
  "arch",
  "filename",
  "sha256",
  "size",
  "installedSize",
  "depends",
  "preDepends",
  "recommends",
  "provides",
  "conflicts",
  "breaks",
  "essential",
  "priority",
  "multiArch",
  "section",
  "source",
  "summary",
] as const satisfies readonly (keyof DebianPackage)[];
type Field = (typeof FIELDS)[number];

/**
 * The cache holds one string per field (the values of every package joined by NUL):
 * a handful of long strings serialise and read back at memory speed, where 60,000
 * objects of 19 strings each took 0.2 s to deserialise. A column's cell offsets are
 * found when a field of it is first read, and a cell is cut out only when read: a
 * build reads the relations and pool paths of a hundred packages, and splitting those
 * columns for all 60,000 made ~60 ms of strings and garbage.
 */
class Columns {
  private readonly offsets = new Map<Field, Int32Array>();
  constructor(
    private readonly joined: Record<Field, string>,
    readonly count: number,
  ) {}

  /** Where each cell of `field` starts (and, at [count], one past the end). */
  private starts(field: Field): Int32Array {
    let at = this.offsets.get(field);
    if (!at) {
      const text = this.joined[field];
      at = new Int32Array(this.count + 1);
      let row = 0;
      for (let i = text.indexOf("\0"); i >= 0 && row < this.count; i = text.indexOf("\0", i + 1)) at[++row] = i + 1;
      if (row !== this.count - 1 && this.count > 0) throw new Error(`the cached column ${field} has ${row + 1} cells, not ${this.count}`);
      at[this.count] = text.length + 1;
      this.offsets.set(field, at);
    }
    return at;
  }

  cell(field: Field, row: number): string {
    const at = this.starts(field);
    return this.joined[field].slice(at[row], at[row + 1] - 1);
  }

  /** Whether the cell is empty, without cutting it out. */
  empty(field: Field, row: number): boolean {
    const at = this.starts(field);
    return at[row + 1] - 1 === at[row];
  }
}

/** Fields every package's recipe reads at once: own properties, set when the record is made. */
const EAGER = ["name", "arch"] as const;

/** A record read from the cache: its other fields come from the columns when read. */
class CachedPackage {
  readonly name: string;
  readonly arch: string;
  constructor(
    readonly columns: Columns,
    readonly row: number,
  ) {
    this.name = columns.cell("name", row);
    this.arch = columns.cell("arch", row);
  }
  /** JSON.stringify (debian.lock) sees the fields, not the columns. */
  toJSON(): DebianPackage {
    return Object.fromEntries(FIELDS.map((f) => [f, (this as unknown as DebianPackage)[f]])) as unknown as DebianPackage;
  }
}
for (const field of FIELDS) {
  if ((EAGER as readonly string[]).includes(field)) continue;
  const read =
    field === "size" || field === "installedSize"
      ? function (this: CachedPackage) {
          return Number(cell(this, field));
        }
      : field === "essential"
        ? function (this: CachedPackage) {
            return cell(this, field) === "1";
          }
        : field === "provides"
          ? function (this: CachedPackage) {
              // most packages provide nothing: no string is cut for them
              return this.columns.empty(field, this.row) ? "" : cell(this, field);
            }
          : function (this: CachedPackage) {
              return cell(this, field);
            };
  Object.defineProperty(CachedPackage.prototype, field, { get: read, enumerable: true });
}
function cell(p: CachedPackage, field: Field): string {
  return p.columns.cell(field, p.row);
}

function encode(pkgs: DebianPackage[]): Buffer {
  const joined = Object.fromEntries(FIELDS.map((f) => [f, pkgs.map((p) => (f === "essential" ? (p.essential ? "1" : "") : String(p[f]))).join("\0")]));
  return serialize({ format: CACHE_FORMAT, count: pkgs.length, joined });
}

function decode(data: Buffer): DebianPackage[] | undefined {
  const parsed = deserialize(data) as { format?: string; count?: number; joined?: Record<Field, string> };
  if (parsed.format !== CACHE_FORMAT || typeof parsed.count !== "number" || !parsed.joined) return undefined;
  const columns = new Columns(parsed.joined, parsed.count);
  try {
    for (const f of FIELDS) if (typeof parsed.joined[f] !== "string") return undefined;
    columns.cell("name", 0);
  } catch {
    return undefined;
  }
  const out: DebianPackage[] = new Array(parsed.count);
  for (let i = 0; i < parsed.count; i++) out[i] = new CachedPackage(columns, i) as unknown as DebianPackage;
  return out;
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
