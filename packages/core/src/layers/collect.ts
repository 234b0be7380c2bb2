/**
 * Finding recipes: BBFILES globs split into .bb recipes and .bbappend files,
 * minus BBMASK; appends matched to recipes by name (`%` matches any version);
 * each recipe's priority from the first BBFILE_PATTERN_<collection> matching it.
 */
import { globSync } from "./glob.js";
import type { DataStore } from "../data/datastore.js";
import { basename } from "node:path";
import { layerCollections, type Collection } from "./collections.js";

export type { Collection } from "./collections.js";

export interface RecipeFiles {
  recipes: string[];
  appends: string[];
  masked: number;
  collections: Collection[];
}

export function collectRecipeFiles(d: DataStore): RecipeFiles {
  const patterns = String(d.getVar("BBFILES") ?? "").split(/\s+/).filter(Boolean);
  const mask = String(d.getVar("BBMASK") ?? "").split(/\s+/).filter(Boolean);
  const maskRe = mask.length ? new RegExp(mask.join("|")) : null;
  const seen = new Set<string>();
  const recipes: string[] = [];
  const appends: string[] = [];
  let masked = 0;
  for (const pattern of patterns) {
    for (const file of globSync(pattern)) {
      if (seen.has(file)) continue;
      seen.add(file);
      if (maskRe && maskRe.test(file)) {
        masked++;
        continue;
      }
      if (file.endsWith(".bb")) recipes.push(file);
      else if (file.endsWith(".bbappend")) appends.push(file);
    }
  }
  return { recipes, appends, masked, collections: collectionsOf(d) };
}

/**
 * The layer collections with their patterns and priorities (see collections.ts), in
 * the order recipes are matched against them: by pattern, longest-sorting first, as
 * BitBake's CookerCollectFiles sorts them, so a layer nested in another's directory
 * is matched before the outer one.
 */
export function collectionsOf(d: DataStore): Collection[] {
  return byPattern(layerCollections(d));
}

/** Collections sorted by pattern text, descending (Python's sorted(..., reverse=True) on the regex strings). */
export function byPattern(collections: Collection[]): Collection[] {
  return [...collections].sort((a, b) => (a.source < b.source ? 1 : a.source > b.source ? -1 : 0));
}

export function recipePriority(file: string, collections: Collection[]): { priority: number; collection?: string } {
  for (const c of collections) if (c.pattern.test(file)) return { priority: c.priority, collection: c.name };
  return { priority: 0 };
}

/** The .bbappend files that apply to a recipe, in BBFILES order. */
export function appendsFor(recipe: string, appends: string[]): string[] {
  const f = basename(recipe);
  const out: string[] = [];
  for (const a of appends) {
    const name = basename(a).replace(/\.bbappend$/, ".bb");
    const pct = name.indexOf("%");
    if (name === f || (pct >= 0 && f.startsWith(name.slice(0, pct)))) out.push(a);
  }
  return out;
}

/** Appends that match no recipe (BitBake errors unless BB_DANGLINGAPPENDS_WARNONLY). */
export function danglingAppends(recipes: string[], appends: string[]): string[] {
  return appends.filter((a) => !recipes.some((r) => appendsFor(r, [a]).length));
}
