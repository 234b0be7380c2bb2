/**
 * PN -> the recipe chosen to build it, where plugins' recipe groups (VirtualRecipeGroup)
 * answer for their own PNs on demand: a build looks up the few it needs, and only what
 * lists every recipe (`size`, iteration: `-p`, world) makes all of them.
 */
import type { VirtualRecipeGroup } from "../hooks.js";
import type { ProviderIndex, RecipeInfo } from "../layers/recipe-info.js";

export class PreferredRecipes extends Map<string, RecipeInfo> {
  private complete = false;

  /** `own`: the recipes chosen among files and single virtual recipes (a group's recipe of one of their PNs is among them when it won). */
  constructor(
    own: Map<string, RecipeInfo>,
    private readonly groups: readonly VirtualRecipeGroup[],
  ) {
    super(own);
    if (!groups.length) this.complete = true;
  }

  override get(pn: string): RecipeInfo | undefined {
    const own = super.get(pn);
    if (own !== undefined || this.complete) return own;
    for (const g of this.groups) {
      const r = g.byPn(pn);
      if (r && !r.info.skipped) return r.info;
    }
    return undefined;
  }

  override has(pn: string): boolean {
    return this.get(pn) !== undefined;
  }

  override get size(): number {
    return this.fill().size0;
  }

  override keys(): MapIterator<string> {
    return this.fill().keys0();
  }

  override values(): MapIterator<RecipeInfo> {
    return this.fill().values0();
  }

  override entries(): MapIterator<[string, RecipeInfo]> {
    return this.fill().entries0();
  }

  override [Symbol.iterator](): MapIterator<[string, RecipeInfo]> {
    return this.entries();
  }

  override forEach(fn: (value: RecipeInfo, key: string, map: Map<string, RecipeInfo>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this);
  }

  /**
   * The recipes Providers indexes one by one: the chosen files' and single virtual
   * recipes, and every recipe of a group without its own provider index.
   */
  *indexed(): Iterable<RecipeInfo> {
    if (this.complete) {
      yield* this.values0();
      return;
    }
    yield* this.values0();
    for (const g of this.groups) {
      if (g.providerIndex) continue;
      for (const r of g.all()) if (!r.info.skipped && !super.has(r.info.pn)) yield r.info;
    }
  }

  /** The provider indexes of the groups that have one. */
  providerIndexes(): ProviderIndex[] {
    return this.complete ? [] : this.groups.flatMap((g) => (g.providerIndex ? [g.providerIndex] : []));
  }

  /** Every group recipe made and added (for a full listing), once. */
  private fill(): this {
    if (!this.complete) {
      for (const g of this.groups) {
        for (const r of g.all()) if (!r.info.skipped && !super.has(r.info.pn)) super.set(r.info.pn, r.info);
      }
      this.complete = true;
    }
    return this;
  }

  private get size0(): number {
    return super.size;
  }
  private keys0(): MapIterator<string> {
    return super.keys();
  }
  private values0(): MapIterator<RecipeInfo> {
    return super.values();
  }
  private entries0(): MapIterator<[string, RecipeInfo]> {
    return super.entries();
  }
}
