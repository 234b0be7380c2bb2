/**
 * Every core hook, typed once, grouped by subsystem (CONVENTIONS 1-2). Plugins tap
 * these by name; only core calls them. Later subsystems (tasks, setscene, fetch,
 * signatures, events) add their groups here.
 */
import { AsyncSeriesHook, SyncHook } from "tapable";
import type { DataStore } from "./data/datastore.js";
import type { LayerInfo } from "./layers/config.js";
import type { RecipeInfo } from "./layers/recipe-info.js";

/** Virtual recipes a plugin adds at parse time (e.g. one per Debian binary package). */
export interface VirtualRecipe {
  info: RecipeInfo;
  /** Builds the recipe's full DataStore on demand from a copy of the configuration. */
  materialize(config: DataStore): DataStore;
}

export interface RecipeIndexView {
  /** Add a recipe that has no file of its own. */
  addVirtual(recipe: VirtualRecipe): void;
}

export function createHooks() {
  return Object.freeze({
    // config
    /** After the configuration (bitbake.conf, layers, INHERIT) is parsed; taps may read or set variables. */
    configParsed: new SyncHook<[DataStore]>(["d"], "configParsed"),
    /** After bblayers.conf and every layer.conf are read; taps see the layer list. */
    layersLoaded: new SyncHook<[LayerInfo[]]>(["layers"], "layersLoaded"),
    // parse
    /** Before recipes are indexed; taps add virtual recipes to the index. */
    synthesizeRecipes: new AsyncSeriesHook<[RecipeIndexView, DataStore]>(["index", "d"], "synthesizeRecipes"),
    /** A recipe was parsed in this process (not restored from the parse cache); return value ignored. */
    recipeParsed: new SyncHook<[DataStore, RecipeInfo]>(["d", "info"], "recipeParsed"),
  });
}

export type KilnHooks = ReturnType<typeof createHooks>;
