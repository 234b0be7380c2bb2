/**
 * A Packages index to DebianPackage records: stanzas split on blank lines and parsed
 * with debian-control (resolve.ts's buildUniverse keeps the newest of each name).
 * The records of one index text are cached under its sha256 (CACHE dir), by column,
 * so a later parse with the same index reads one file instead of parsing 60,000
 * stanzas again.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { deserialize, serialize } from "node:v8";
import { KilnError } from "@kiln/core";
import { parse as parseControl } from "debian-control";
import { writeAtomic } from "./archive.js";
import { markUsed, pruneUnused } from "./cache-files.js";
import type { DebianPackage } from "./types.js";

/** Bump when DebianPackage or the parsing changes: old caches are then ignored. */
const CACHE_FORMAT = "kiln-debian-index-6";


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
 * The cache holds one string per field (the values of every package joined by NUL)
 * and where each cell of it starts: a handful of long strings and typed arrays
 * serialise and read back at memory speed, where 60,000 objects of 19 strings each
 * took 0.2 s to deserialise. A cell is cut out only when read, and a record is made
 * only for a row asked for: a build reads a hundred of the 60,000, and making them all
 * (or splitting a column for all) cost tens of ms and their garbage on every start.
 */
class Columns {
  constructor(
    private readonly joined: Record<Field, string>,
    /** Per field, where each cell starts (and, at [count], one past the end). */
    private readonly starts: Record<Field, Int32Array>,
    readonly count: number,
  ) {}

  cell(field: Field, row: number): string {
    const at = this.starts[field];
    return this.joined[field].slice(at[row], at[row + 1] - 1);
  }

  /** Whether the cell is empty, without cutting it out. */
  empty(field: Field, row: number): boolean {
    const at = this.starts[field];
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

/** The records of an index by row (file order): each made when first asked for, the same object after. */
export interface PackageRows {
  readonly count: number;
  at(row: number): DebianPackage;
  /** The row's package name, without making its record. */
  name(row: number): string;
}

/** Rows of records already made (a freshly parsed index, a test's list). */
export const arrayRows = (pkgs: DebianPackage[]): PackageRows => ({ count: pkgs.length, at: (i) => pkgs[i], name: (i) => pkgs[i].name });

class CachedRows implements PackageRows {
  private readonly made: (CachedPackage | undefined)[];
  constructor(private readonly columns: Columns) {
    this.made = new Array(columns.count);
  }
  get count(): number {
    return this.columns.count;
  }
  at(row: number): DebianPackage {
    return (this.made[row] ??= new CachedPackage(this.columns, row)) as unknown as DebianPackage;
  }
  name(row: number): string {
    return this.made[row]?.name ?? this.columns.cell("name", row);
  }
}

/** Several indexes' rows one after another (a suite's components). */
export function concatRows(parts: PackageRows[]): PackageRows {
  if (parts.length === 1) return parts[0];
  const first = [0];
  for (const p of parts) first.push(first[first.length - 1] + p.count);
  const part = (row: number) => {
    let i = 0;
    while (row >= first[i + 1]) i++;
    return i;
  };
  return {
    count: first[parts.length],
    at: (row) => parts[part(row)].at(row - first[part(row)]),
    name: (row) => parts[part(row)].name(row - first[part(row)]),
  };
}

/** Every record (made if not yet). */
export function allRows(rows: PackageRows): DebianPackage[] {
  const out: DebianPackage[] = new Array(rows.count);
  for (let i = 0; i < rows.count; i++) out[i] = rows.at(i);
  return out;
}

function encode(pkgs: DebianPackage[]): Buffer {
  const joined = {} as Record<Field, string>;
  const starts = {} as Record<Field, Int32Array>;
  for (const f of FIELDS) {
    const cells = pkgs.map((p) => (f === "essential" ? (p.essential ? "1" : "") : String(p[f])));
    const at = new Int32Array(cells.length + 1);
    for (let i = 0; i < cells.length; i++) at[i + 1] = at[i] + cells[i].length + 1;
    joined[f] = cells.join("\0");
    starts[f] = at;
  }
  return serialize({ format: CACHE_FORMAT, count: pkgs.length, joined, starts });
}

function decode(data: Buffer): PackageRows | undefined {
  const parsed = deserialize(data) as { format?: string; count?: number; joined?: Record<Field, string>; starts?: Record<Field, Int32Array> };
  const { count, joined, starts } = parsed;
  if (parsed.format !== CACHE_FORMAT || typeof count !== "number" || !joined || !starts) return undefined;
  for (const f of FIELDS) {
    const at = starts[f];
    // one cell per record, the last ending where the column does
    if (typeof joined[f] !== "string" || !(at instanceof Int32Array) || at.length !== count + 1 || at[0] !== 0 || at[count] !== joined[f].length + 1) return undefined;
  }
  return new CachedRows(new Columns(joined, starts, count));
}

/**
 * The records of the index whose text has sha256 `key`: from the cache in `cacheDir`
 * when there, else `text()` parsed and cached.
 */
export async function indexRecords(cacheDir: string, key: string, where: string, text: () => Promise<string>): Promise<PackageRows> {
  const file = join(cacheDir, "debian", `${key}.v8`);
  if (existsSync(file)) {
    try {
      const cached = decode(readFileSync(file));
      if (cached) {
        markUsed(file);
        return cached;
      }
    } catch {
      // a damaged cache is rebuilt below
    }
  }
  const pkgs = parsePackages(await text(), where);
  writeAtomic(file, encode(pkgs));
  pruneUnused(dirname(file), /^[0-9a-f]{64}\.v8$/);
  return arrayRows(pkgs);
}
