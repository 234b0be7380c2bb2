/**
 * A copy-on-write map: a stack of layers where only the top one is written.
 * `fork()` freezes the current top layer and gives both sides a fresh one, so a
 * copy costs O(1) however many variables the store holds (DESIGN §3) and writes
 * on either side never show through to the other.
 */
const DELETED: unique symbol = Symbol("deleted");
type Slot<V> = V | typeof DELETED;

/** Flatten chains deeper than this on fork, so lookups stay short. */
const MAX_DEPTH = 12;

export class CowMap<V> {
  private own: Map<string, Slot<V>>;
  private parent: CowMap<V> | null;
  private depth: number;
  /** A frozen layer's live keys (its own and below): frozen layers never change. */
  private frozenKeys?: ReadonlySet<string>;
  /** The parent is a live map (an overlay's, or what forked from one): its keys are never kept. */
  private overLive = false;

  constructor(parent: CowMap<V> | null = null) {
    this.own = new Map();
    this.parent = parent;
    this.depth = parent ? parent.depth + 1 : 0;
  }

  get(key: string): V | undefined {
    let layer: CowMap<V> | null = this;
    while (layer) {
      const slot = layer.own.get(key);
      if (slot !== undefined) return slot === DELETED ? undefined : slot;
      layer = layer.parent;
    }
    return undefined;
  }

  /** True when the value lives in the writable top layer (safe to mutate in place). */
  isOwn(key: string): boolean {
    const slot = this.own.get(key);
    return slot !== undefined && slot !== DELETED;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  set(key: string, value: V): void {
    this.own.set(key, value);
  }

  delete(key: string): void {
    if (this.parent && this.parent.has(key)) this.own.set(key, DELETED);
    else this.own.delete(key);
  }

  /**
   * Every live key. The layers below the top are frozen: their keys are worked out
   * once and kept (a task's store is a copy of its recipe's, a recipe's of the
   * configuration's, and each task listed them all again, twice).
   */
  keys(): Set<string> {
    return this.liveOver(this.parentKeys());
  }

  private parentKeys(): ReadonlySet<string> | undefined {
    return this.overLive ? this.parent?.keys() : this.parent?.frozenLiveKeys();
  }

  /** This layer's own keys over `below` (deleted ones removed). */
  private liveOver(below: ReadonlySet<string> | undefined): Set<string> {
    const live = new Set<string>(below);
    for (const [key, slot] of this.own) {
      if (slot === DELETED) live.delete(key);
      else live.add(key);
    }
    return live;
  }

  /** keys() of a frozen layer (only ever called on a parent), kept. */
  private frozenLiveKeys(): ReadonlySet<string> {
    return (this.frozenKeys ??= this.liveOver(this.parentKeys()));
  }

  /** Keys set in the top layer only (BitBake's localkeys). */
  ownKeys(): string[] {
    const out: string[] = [];
    for (const [key, slot] of this.own) if (slot !== DELETED) out.push(key);
    return out;
  }

  /**
   * Freeze what this map holds and return a new map sharing it. This map keeps
   * working on a fresh top layer of its own.
   */
  fork(): CowMap<V> {
    let base: CowMap<V>;
    // (an overlay's parent is live, never a layer to share)
    if (this.own.size === 0 && this.parent && !this.overLive) {
      base = this.parent;
    } else {
      base = new CowMap<V>(this.parent);
      base.own = this.own;
      base.depth = this.depth;
      base.overLive = this.overLive;
      if (base.depth >= MAX_DEPTH) base = base.flattened();
    }
    this.overLive = false;
    this.own = new Map();
    this.parent = base;
    this.depth = base.depth + 1;
    return new CowMap<V>(base);
  }

  /**
   * A map over this one as it is now, for one synchronous evaluation: unlike fork(),
   * this map is not frozen and keeps its layers, so the overlay must be dropped before
   * this map is written again. Its writes never show here.
   */
  overlay(): CowMap<V> {
    const c = new CowMap<V>(this);
    c.overLive = true;
    return c;
  }

  private flattened(): CowMap<V> {
    const flat = new CowMap<V>(null);
    for (const key of this.keys()) flat.own.set(key, this.get(key) as V);
    return flat;
  }
}
