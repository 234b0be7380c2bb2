import { readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Kiln, clearFileCache } from "../src/index.js";
import { twoLayerBuild, type TempTree } from "./helpers.js";

const ENV = { PATH: "/usr/bin:/bin" };
let tree: TempTree;

function parse(threads = 1) {
  clearFileCache();
  return new Kiln({ cwd: tree.path("build"), env: ENV, threads }).parseAll();
}

beforeEach(() => {
  tree = twoLayerBuild({
    "meta-a/classes/shared.bbclass": `SHARED = "v1"\n`,
    "meta-a/recipes/one_1.0.bb": `inherit shared\nrequire one.inc\n`,
    "meta-a/recipes/one.inc": `INC = "i1"\n`,
    "meta-a/recipes/two_1.0.bb": `inherit shared\n`,
    "meta-a/recipes/three_1.0.bb": `X = "3"\n`,
  });
});
afterEach(() => tree.remove());

describe("parse cache", () => {
  it("an unchanged tree re-parses nothing", async () => {
    expect((await parse()).stats).toMatchObject({ recipes: 3, parsed: 3, cached: 0 });
    expect((await parse()).stats).toMatchObject({ recipes: 3, parsed: 0, cached: 3 });
    expect(readdirSync(tree.path("build/tmp/cache")).filter((f) => f.endsWith(".json"))).toHaveLength(1);
  });

  it("touching one recipe (new content) re-parses only it; a touch without change re-parses none", async () => {
    await parse();
    tree.write("meta-a/recipes/three_1.0.bb", `X = "changed"\n`);
    const r = await parse();
    expect(r.stats).toMatchObject({ parsed: 1, cached: 2 });
    const kiln = new Kiln({ cwd: tree.path("build"), env: ENV });
    expect(kiln.parseRecipe((await kiln.findRecipe("three")).file).getVar("X")).toBe("changed");
    const later = new Date(Date.now() + 5000);
    utimesSync(tree.path("meta-a/recipes/two_1.0.bb"), later, later);
    expect((await parse()).stats).toMatchObject({ parsed: 0, cached: 3 });
  });

  it("a changed include or class re-parses exactly the recipes that read it", async () => {
    await parse();
    tree.write("meta-a/recipes/one.inc", `INC = "i2"\n`);
    expect((await parse()).stats).toMatchObject({ parsed: 1, cached: 2 });
    tree.write("meta-a/classes/shared.bbclass", `SHARED = "v2"\n`);
    expect((await parse()).stats).toMatchObject({ parsed: 2, cached: 1 });
  });

  it("changing local.conf re-parses every recipe", async () => {
    await parse();
    tree.write("build/conf/local.conf", `MACHINE = "m2"\n`);
    expect((await parse()).stats).toMatchObject({ parsed: 3, cached: 0 });
    expect(readdirSync(tree.path("build/tmp/cache")).filter((f) => f.endsWith(".json"))).toHaveLength(1);
  });

  it("a file appearing earlier on the search path invalidates the recipes that looked for it", async () => {
    await parse();
    // one_1.0.bb's `inherit shared` looked in classes-recipe/ first; creating it there changes the result
    tree.write("meta-a/classes-recipe/shared.bbclass", `SHARED = "recipe-class"\n`);
    expect((await parse()).stats).toMatchObject({ parsed: 2, cached: 1 });
  });

  it("a corrupt cache file is a logged miss, never a crash", async () => {
    await parse();
    const dir = tree.path("build/tmp/cache");
    const file = readdirSync(dir).find((f) => f.endsWith(".json")) as string;
    writeFileSync(`${dir}/${file}`, "{ not json");
    expect((await parse()).stats).toMatchObject({ parsed: 3, cached: 0 });
    expect((await parse()).stats).toMatchObject({ parsed: 0, cached: 3 });
  });

  it("a new recipe is parsed, a deleted one is dropped", async () => {
    await parse();
    tree.write("meta-a/recipes/four_1.0.bb", "");
    expect((await parse()).stats).toMatchObject({ recipes: 4, parsed: 1, cached: 3 });
  });
});

describe("parallel parsing", () => {
  it("worker threads give the same recipe information as one thread", async () => {
    for (let i = 0; i < 300; i++) {
      tree.write(`meta-a/recipes/gen${i}_1.${i % 7}.bb`, `DEPENDS = "gen${Math.max(0, i - 1)}"\nX:append = " ${i}"\ninherit shared\n`);
    }
    const byFile = (r: Awaited<ReturnType<typeof parse>>) => [...r.recipes].sort((a, b) => a.file.localeCompare(b.file));
    const single = await parse(1);
    rmSync(tree.path("build/tmp"), { recursive: true, force: true });
    const parallel = await parse(2);
    expect(parallel.stats).toMatchObject({ recipes: 303, parsed: 303, errors: 0 });
    expect(byFile(parallel)).toEqual(byFile(single));
  });
});
