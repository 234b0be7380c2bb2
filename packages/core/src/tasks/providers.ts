/**
 * Who provides a name (BitBake's providers.py): build-time providers from PN and
 * PROVIDES (`virtual/...` included), runtime providers from PACKAGES and RPROVIDES,
 * chosen with PREFERRED_PROVIDER_* (and PREFERRED_PROVIDERS) / PREFERRED_RPROVIDER_*.
 * Only the preferred version of each PN takes part (PREFERRED_VERSION is decided
 * before this).
 */
import type { DataStore } from "../data/datastore.js";
import type { ProviderIndex, RecipeInfo } from "../layers/recipe-info.js";
import { PreferredRecipes } from "./preferred-recipes.js";

export type Resolution =
  | { kind: "recipe"; recipe: RecipeInfo }
  /** Listed in ASSUME_PROVIDED: the host supplies it, nothing is built. */
  | { kind: "assumed" }
  | { kind: "none"; skipped?: string }
  | { kind: "multiple"; candidates: RecipeInfo[]; variable: string };

/**
 * One recipe, or several: nearly every name has one provider, and a generated suite
 * has ~200,000 names (an array for each was a third of building this).
 */
type Slot = RecipeInfo | RecipeInfo[];

function addTo(map: Map<string, Slot>, name: string, recipe: RecipeInfo): void {
  const slot = map.get(name);
  if (slot === undefined) map.set(name, recipe);
  else if (Array.isArray(slot)) {
    if (!slot.includes(recipe)) slot.push(recipe);
  } else if (slot !== recipe) map.set(name, [slot, recipe]);
}

const listOf = (slot: Slot | undefined): RecipeInfo[] | undefined => (slot === undefined || Array.isArray(slot) ? slot : [slot]);

export class Providers {
  private readonly build = new Map<string, Slot>();
  private readonly runtime = new Map<string, Slot>();
  private readonly packageOwners = new Map<string, Slot>();
  private readonly skipped = new Map<string, string>();
  private readonly dynamic: [RegExp, RecipeInfo][] = [];
  private readonly assumed: Set<string>;
  private readonly preferredProviders = new Map<string, string>();
  private readonly buildCache = new Map<string, Resolution>();
  private readonly runtimeCache = new Map<string, Resolution>();
  /** Plugins' own indexes of their virtual recipes, asked per name (RecipeInfo.providerIndex). */
  private readonly indexes = new Set<ProviderIndex>();
  private readonly isPreferred: (r: RecipeInfo) => boolean;

  /** `preferred`: the recipe chosen for each PN (a map by PN, or the recipes themselves). */
  constructor(
    preferred: Iterable<RecipeInfo> | ReadonlyMap<string, RecipeInfo>,
    private readonly d: DataStore,
    all: Iterable<RecipeInfo> = [],
  ) {
    let chosen: Iterable<RecipeInfo>;
    if (preferred instanceof PreferredRecipes) {
      // recipe groups with an index of their own are asked, not listed
      chosen = preferred.indexed();
      for (const index of preferred.providerIndexes()) this.indexes.add(index);
      this.isPreferred = (r) => preferred.get(r.pn) === r;
    } else if (preferred instanceof Map) {
      const byPn = preferred as ReadonlyMap<string, RecipeInfo>;
      chosen = byPn.values();
      this.isPreferred = (r) => byPn.get(r.pn) === r;
    } else {
      const set = new Set(preferred as Iterable<RecipeInfo>);
      chosen = set;
      this.isPreferred = (r) => set.has(r);
    }
    for (const r of chosen) {
      if (r.skipped) {
        // (a PN whose REQUIRED_VERSION is missing: its recipes are fine, none may be built)
        this.skipped.set(r.pn, r.skipped);
        continue;
      }
      if (r.providerIndex) {
        this.indexes.add(r.providerIndex);
        continue;
      }
      for (const p of r.provides) addTo(this.build, p, r);
      for (const pkg of r.packages) {
        addTo(this.runtime, pkg, r);
        addTo(this.packageOwners, pkg, r);
      }
      for (const list of Object.values(r.rprovides)) for (const p of list) addTo(this.runtime, p, r);
      for (const pattern of r.packagesDynamic ?? []) {
        try {
          // anchored at the start, as Python's re.match; BitBake escapes '+'
          this.dynamic.push([new RegExp(`^(?:${pattern.replace(/\+/g, "\\+")})`), r]);
        } catch {
          // an invalid pattern provides nothing
        }
      }
    }
    for (const r of all) if (r.skipped && !this.skipped.has(r.pn)) this.skipped.set(r.pn, r.skipped);
    this.assumed = new Set(String(d.getVar("ASSUME_PROVIDED") ?? "").split(/\s+/).filter(Boolean));
    // PREFERRED_PROVIDERS = "virtual/x:pn ...": as PREFERRED_PROVIDER_virtual/x = "pn", which wins over it
    for (const entry of String(d.getVar("PREFERRED_PROVIDERS") ?? "").split(/\s+/).filter(Boolean)) {
      const parts = entry.split(":");
      if (parts.length === 2 && parts[0] && parts[1]) this.preferredProviders.set(parts[0], parts[1]);
    }
  }

  /** The slot's recipes and the indexes' answers for `name`: preferred, not skipped, each once. */
  private candidates(slot: Slot | undefined, ask: (index: ProviderIndex) => readonly RecipeInfo[]): RecipeInfo[] | undefined {
    let out = listOf(slot);
    for (const index of this.indexes) {
      for (const r of ask(index)) {
        if (r.skipped || !this.isPreferred(r) || out?.includes(r)) continue;
        out = out ? [...out, r] : [r];
      }
    }
    return out;
  }

  /** The recipe that builds `name` (a PN or something PROVIDES names). */
  resolveBuild(name: string): Resolution {
    let r = this.buildCache.get(name);
    if (!r) {
      r = this.choose(name, this.candidates(this.build.get(name), (i) => i.build(name)), `PREFERRED_PROVIDER_${name}`, (c) => c.pn === name, false);
      this.buildCache.set(name, r);
    }
    return r;
  }

  /** The recipe whose packages provide the runtime name `name`. */
  resolveRuntime(name: string): Resolution {
    let r = this.runtimeCache.get(name);
    if (!r) {
      // PACKAGES_DYNAMIC only when nothing else provides the name (BitBake's getRuntimeProviders)
      const found = this.candidates(this.runtime.get(name), (i) => i.runtime(name)) ?? this.dynamic.filter(([re]) => re.test(name)).map(([, recipe]) => recipe);
      let owners: RecipeInfo[] | undefined;
      const owns = (c: RecipeInfo) => (owners ??= this.candidates(this.packageOwners.get(name), (i) => i.packageOwners(name)) ?? []).includes(c);
      r = this.choose(name, [...new Set(found)], `PREFERRED_RPROVIDER_${name}`, owns, true);
      this.runtimeCache.set(name, r);
    }
    return r;
  }

  private choose(
    name: string,
    candidates: RecipeInfo[] | undefined,
    preferVar: string,
    natural: (c: RecipeInfo) => boolean,
    runtime: boolean,
  ): Resolution {
    if (this.assumed.has(name)) return { kind: "assumed" };
    if (!candidates?.length) return { kind: "none", skipped: this.skipped.get(name) };
    if (candidates.length === 1) return { kind: "recipe", recipe: candidates[0] };
    const wanted = this.d.getVar(preferVar) || (runtime ? undefined : this.preferredProviders.get(name));
    if (wanted) {
      const hit = candidates.find((c) => c.pn === String(wanted));
      if (hit) return { kind: "recipe", recipe: hit };
    }
    if (runtime) {
      // a recipe that is the preferred provider of anything it provides (BitBake's filterProvidersRunTime)
      const preferredSomewhere = candidates.filter((c) => c.provides.some((p) => String(this.d.getVar(`PREFERRED_PROVIDER_${p}`) ?? "") === c.pn));
      if (preferredSomewhere.length === 1) return { kind: "recipe", recipe: preferredSomewhere[0] };
    }
    // "If pn == item, give it a slight default preference" (BitBake), and for runtime
    // names a package of that exact name over an RPROVIDES
    const own = candidates.filter(natural);
    if (own.length === 1) return { kind: "recipe", recipe: own[0] };
    return { kind: "multiple", candidates, variable: preferVar };
  }
}
