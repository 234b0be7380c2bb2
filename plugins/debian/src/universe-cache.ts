/**
 * The universe of a suite (resolve.ts's buildUniverse), cached per universe key: the
 * chosen package of every name and the providers of every provided name, as positions
 * in the index's rows. Building it meant a record and a map entry for each of the
 * suite's 60,000 packages on every start (~50 ms and their garbage), where a build
 * looks up a few hundred names; from the cache, a lookup is a binary search over the
 * names and makes only the record it finds.
 */
import { existsSync, readFileSync } from "node:fs";
import { deserialize, serialize } from "node:v8";
import { dirname } from "node:path";
import { writeAtomic } from "./archive.js";
import { markUsed, pruneUnused } from "./cache-files.js";
import type { PackageRows } from "./packages-index.js";
import { buildUniverse, type Provider, type Universe } from "./resolve.js";
import type { DebianPackage } from "./types.js";

/** Bump when buildUniverse's choices or this layout change: old caches are then ignored. */
const UNIVERSE_FORMAT = "kiln-debian-universe-1";

/**
 * What a universe is chosen from, by position: the index's rows, then the lock's
 * records (which replace the rows of their names).
 */
export interface UniverseSource {
  rows: PackageRows;
  pinned?: DebianPackage[];
}

interface Stored {
  format: string;
  arch: string;
  /** Positions of byName's packages, in its order. */
  order: Int32Array;
  /** Indexes into `order`, by package name. */
  sorted: Int32Array;
  /** The provided names, sorted. */
  provNames: string[];
  /** Per provided name (and one past the last), where its providers start in `provPos`. */
  provStart: Int32Array;
  provPos: Int32Array;
  /** Per provider, its provided version ("" when unversioned). */
  provVersions: string[];
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

class Positions {
  constructor(private readonly src: UniverseSource) {}
  at(pos: number): DebianPackage {
    const n = this.src.rows.count;
    return pos < n ? this.src.rows.at(pos) : (this.src.pinned as DebianPackage[])[pos - n];
  }
  name(pos: number): string {
    const n = this.src.rows.count;
    return pos < n ? this.src.rows.name(pos) : (this.src.pinned as DebianPackage[])[pos - n].name;
  }
}

/** Index of `name` among `count` names in order, `nameAt(i)` giving the i-th; -1 if absent. */
function search(count: number, name: string, nameAt: (i: number) => string): number {
  let lo = 0;
  let hi = count - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = cmp(nameAt(mid), name);
    if (c === 0) return mid;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** A read-only map whose entries are found when asked for. */
abstract class LazyMap<V> implements ReadonlyMap<string, V> {
  abstract readonly size: number;
  abstract get(key: string): V | undefined;
  abstract keys(): IterableIterator<string>;
  has(key: string): boolean {
    return this.get(key) !== undefined;
  }
  *values(): IterableIterator<V> {
    for (const k of this.keys()) yield this.get(k) as V;
  }
  *entries(): IterableIterator<[string, V]> {
    for (const k of this.keys()) yield [k, this.get(k) as V];
  }
  forEach(fn: (value: V, key: string, map: ReadonlyMap<string, V>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this);
  }
  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries();
  }
}

class CachedByName extends LazyMap<DebianPackage> {
  constructor(
    private readonly s: Stored,
    private readonly at: Positions,
  ) {
    super();
  }
  get size(): number {
    return this.s.order.length;
  }
  private find(name: string): number {
    const { order, sorted } = this.s;
    return search(sorted.length, name, (k) => this.at.name(order[sorted[k]]));
  }
  get(name: string): DebianPackage | undefined {
    const i = this.find(name);
    return i < 0 ? undefined : this.at.at(this.s.order[this.s.sorted[i]]);
  }
  // no record made to answer
  override has(name: string): boolean {
    return this.find(name) >= 0;
  }
  *keys(): IterableIterator<string> {
    for (const pos of this.s.order) yield this.at.name(pos);
  }
  // a record's name is the key: no second search
  override *values(): IterableIterator<DebianPackage> {
    for (const pos of this.s.order) yield this.at.at(pos);
  }
}

class CachedProviders extends LazyMap<readonly Provider[]> {
  private readonly lists = new Map<number, Provider[]>();
  constructor(
    private readonly s: Stored,
    private readonly at: Positions,
  ) {
    super();
  }
  get size(): number {
    return this.s.provNames.length;
  }
  private list(i: number): Provider[] {
    let out = this.lists.get(i);
    if (!out) {
      out = [];
      for (let k = this.s.provStart[i]; k < this.s.provStart[i + 1]; k++) {
        const pkg = this.at.at(this.s.provPos[k]);
        const version = this.s.provVersions[k];
        out.push(version === "" ? { pkg } : { pkg, version });
      }
      this.lists.set(i, out);
    }
    return out;
  }
  private find(name: string): number {
    const names = this.s.provNames;
    return search(names.length, name, (k) => names[k]);
  }
  get(name: string): readonly Provider[] | undefined {
    const i = this.find(name);
    return i < 0 ? undefined : this.list(i);
  }
  override has(name: string): boolean {
    return this.find(name) >= 0;
  }
  *keys(): IterableIterator<string> {
    yield* this.s.provNames;
  }
}

function encode(u: Universe, posOf: Map<DebianPackage, number>): Buffer {
  const pos = (p: DebianPackage) => posOf.get(p) as number;
  const names = [...u.byName.keys()];
  const order = Int32Array.from(u.byName.values(), pos);
  const sorted = Int32Array.from(names.keys()).sort((a, b) => cmp(names[a], names[b]));
  const provided = [...u.providers.keys()].sort(cmp);
  const provStart = new Int32Array(provided.length + 1);
  const provPos: number[] = [];
  const versions: string[] = [];
  provided.forEach((name, i) => {
    for (const { pkg, version } of u.providers.get(name) ?? []) {
      provPos.push(pos(pkg));
      versions.push(version ?? "");
    }
    provStart[i + 1] = provPos.length;
  });
  const stored: Stored = {
    format: UNIVERSE_FORMAT,
    arch: u.arch,
    order,
    sorted,
    provNames: provided,
    provStart,
    provPos: Int32Array.from(provPos),
    provVersions: versions,
  };
  return serialize(stored);
}

function decode(data: Buffer, src: UniverseSource, arch: string): Universe | undefined {
  const s = deserialize(data) as Partial<Stored>;
  if (s.format !== UNIVERSE_FORMAT || s.arch !== arch) return undefined;
  const ints = [s.order, s.sorted, s.provStart, s.provPos];
  if (!ints.every((a) => a instanceof Int32Array) || !Array.isArray(s.provNames) || !Array.isArray(s.provVersions)) return undefined;
  const stored = s as Stored;
  const total = src.rows.count + (src.pinned?.length ?? 0);
  // every position within the source, and the lists as long as they say
  const inRange = (a: Int32Array, max: number) => a.every((v) => v >= 0 && v < max);
  if (stored.sorted.length !== stored.order.length || !inRange(stored.order, total) || !inRange(stored.sorted, stored.order.length) || !inRange(stored.provPos, total)) return undefined;
  const { provNames, provStart, provPos, provVersions } = stored;
  if (provStart.length !== provNames.length + 1 || provStart[provNames.length] !== provPos.length || provVersions.length !== provPos.length) return undefined;
  const at = new Positions(src);
  return { byName: new CachedByName(stored, at), providers: new CachedProviders(stored, at), arch };
}

/**
 * The universe of `src` for `arch`: read from `file` when it holds one, else built
 * (every record made) and written there. `file` must be named by what determines the
 * universe (the index texts, the lock, the architecture).
 */
export function cachedUniverse(file: string, src: UniverseSource, arch: string): Universe {
  if (existsSync(file)) {
    try {
      const cached = decode(readFileSync(file), src, arch);
      if (cached) {
        markUsed(file);
        return cached;
      }
    } catch {
      // a damaged cache is rebuilt below
    }
  }
  // the lock's records replace the index's of the same names
  const pinnedNames = new Set(src.pinned?.map((p) => p.name));
  const posOf = new Map<DebianPackage, number>();
  for (let i = 0; i < src.rows.count; i++) if (!pinnedNames.has(src.rows.name(i))) posOf.set(src.rows.at(i), i);
  src.pinned?.forEach((p, j) => posOf.set(p, src.rows.count + j));
  const u = buildUniverse(posOf.keys(), arch);
  writeAtomic(file, encode(u, posOf));
  pruneUnused(dirname(file), /^universe-[0-9a-f]{64}\.v8$/);
  return u;
}
