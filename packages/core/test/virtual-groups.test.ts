/**
 * Plugins' recipe groups (VirtualRecipeGroup): recipes made as they are looked up,
 * all of them only when every recipe is listed; a recipe file of the same PN competes
 * with the group's; Providers asks a group's own index instead of listing its recipes.
 */
import { afterEach, describe, expect, it } from "vitest";
import { clearFileCache, DataStore, Kiln, Providers, type ProviderIndex, type RecipeInfo, type VirtualRecipe, type VirtualRecipeGroup } from "../src/index.js";
import { PreferredRecipes } from "../src/tasks/preferred-recipes.js";
import { recipeRecord as recipe, twoLayerBuild, type TempTree } from "./helpers.js";

let tree: TempTree | undefined;
afterEach(() => tree?.remove());

/** A group of `names` (PN g-<name>), counting the recipes it makes; `indexed`: with its own provider index. */
function group(names: string[], indexed: boolean): VirtualRecipeGroup & { made: Set<string> } {
  const made = new Set<string>();
  const recipes = new Map<string, VirtualRecipe>();
  const make = (pn: string): VirtualRecipe | undefined => {
    if (!names.includes(pn.replace(/^g-/, "")) || !pn.startsWith("g-")) return undefined;
    let r = recipes.get(pn);
    if (!r) {
      made.add(pn);
      const info = recipe(pn, { file: `virtual:g:${pn}`, virtual: true, rprovides: pn === "g-mawk" ? { [pn]: ["g-awk"] } : {} });
      r = { info, materialize: () => new DataStore() };
      recipes.set(pn, r);
    }
    return r;
  };
  const index: ProviderIndex = {
    build: (name) => (make(name) ? [make(name)!.info] : []),
    packageOwners: (name) => (make(name) ? [make(name)!.info] : []),
    runtime: (name) => (name === "g-awk" ? [make("g-mawk")!.info] : make(name) ? [make(name)!.info] : []),
  };
  return {
    made,
    size: names.length,
    byPn: make,
    byFile: (file) => (file.startsWith("virtual:g:") ? make(file.slice("virtual:g:".length)) : undefined),
    *all() {
      for (const n of names) yield make(`g-${n}`)!;
    },
    ...(indexed ? { providerIndex: index } : {}),
  };
}

describe("virtual recipe groups", () => {
  it("look recipes up by PN as needed, make them all only to list every recipe", () => {
    const g = group(["a", "b", "c", "mawk"], true);
    const preferred = new PreferredRecipes(new Map([["file-recipe", recipe("file-recipe")]]), [g]);
    expect(preferred.get("g-b")?.pn).toBe("g-b");
    expect(preferred.get("g-b")).toBe(preferred.get("g-b"));
    expect(preferred.has("g-nothing")).toBe(false);
    expect([...g.made]).toEqual(["g-b"]);
    expect(preferred.size).toBe(5);
    expect([...preferred.keys()].sort()).toEqual(["file-recipe", "g-a", "g-b", "g-c", "g-mawk"]);
    expect(g.made.size).toBe(4);
  });

  it("a recipe file of a group recipe's PN is chosen over it where the map says so", () => {
    const g = group(["a"], true);
    const file = recipe("g-a", { pv: "9.0" });
    const preferred = new PreferredRecipes(new Map([["g-a", file]]), [g]);
    expect(preferred.get("g-a")).toBe(file);
    expect([...preferred.values()]).toEqual([file]);
  });

  it("Providers asks a group's index and makes only what resolution needs; a group without one is listed whole", () => {
    const d = new DataStore();
    const g = group(["a", "b", "mawk"], true);
    const p = new Providers(new PreferredRecipes(new Map(), [g]), d, []);
    const awk = p.resolveRuntime("g-awk");
    expect(awk.kind === "recipe" && awk.recipe.pn).toBe("g-mawk");
    expect(p.resolveBuild("g-a").kind).toBe("recipe");
    expect(p.resolveBuild("g-zzz").kind).toBe("none");
    expect([...g.made].sort()).toEqual(["g-a", "g-mawk"]);
    const plain = group(["a", "b", "mawk"], false);
    const q = new Providers(new PreferredRecipes(new Map(), [plain]), d, []);
    expect(plain.made.size).toBe(3);
    const viaList = q.resolveRuntime("g-awk");
    expect(viaList.kind === "recipe" && viaList.recipe.pn).toBe("g-mawk");
  });

  it("through parseAll: counted, listed when read, parsed by file name; a recipe file of a group PN competes with it", async () => {
    tree = twoLayerBuild({ "meta-a/recipes/g-a_9.0.bb": `SUMMARY = "the file's g-a"\n` });
    clearFileCache();
    const g = group(["a", "b", "mawk"], true);
    const kiln = new Kiln({
      cwd: tree.path("build"),
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      plugins: [{ name: "kiln:test-group", apply: (k: Kiln) => k.hooks.synthesizeRecipes.tap("kiln:test-group", (index) => index.addVirtualGroup(g)) }],
    });
    const result = await kiln.parseAll();
    expect(result.stats.virtual).toBe(3);
    // chosen as BitBake chooses among recipes of one PN (layer priority, then version): the file
    expect(result.preferred.get("g-a")?.pv).toBe("9.0");
    expect(result.preferred.get("g-b")?.file).toBe("virtual:g:g-b");
    expect([...g.made].sort()).toEqual(["g-a", "g-b"]);
    expect(kiln.parseRecipe("virtual:g:g-mawk")).toBeInstanceOf(DataStore);
    expect(result.recipes.filter((r) => r.pn === "g-a").map((r) => r.pv).sort()).toEqual(["1.0", "9.0"]);
    expect(g.made.size).toBe(3);
  });
});
