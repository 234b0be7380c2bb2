/** Provider choice on RecipeInfo records (the CLI-level cases live in test/task-graph.test.ts). */
import { describe, expect, it } from "vitest";
import { DataStore, Providers, type ProviderIndex, type RecipeInfo } from "../src/index.js";
import { recipeRecord as recipe } from "./helpers.js";

const pnOf = (r: ReturnType<Providers["resolveBuild"]>) => (r.kind === "recipe" ? r.recipe.pn : r.kind);

describe("Providers", () => {
  it("finds runtime names through PACKAGES_DYNAMIC only when nothing else provides them", () => {
    const kernel = recipe("kernel", { packagesDynamic: ["^kernel-module-.*"] });
    const extra = recipe("extra-mod", { packages: ["kernel-module-extra"] });
    const p = new Providers([kernel, extra], new DataStore());
    expect(pnOf(p.resolveRuntime("kernel-module-foo"))).toBe("kernel");
    expect(pnOf(p.resolveRuntime("kernel-module-extra"))).toBe("extra-mod");
    expect(pnOf(p.resolveRuntime("kernel-image"))).toBe("none");
  });

  it("treats ASSUME_PROVIDED names as provided by the host", () => {
    const d = new DataStore();
    d.setVar("ASSUME_PROVIDED", "bzip2-native git-native");
    const p = new Providers([recipe("bzip2-native")], d);
    expect(p.resolveBuild("git-native").kind).toBe("assumed");
    expect(p.resolveBuild("bzip2-native").kind).toBe("assumed");
  });

  it("reports skipped recipes as the reason nothing provides a name", () => {
    const p = new Providers([], new DataStore(), [recipe("gone", { skipped: "needs a feature" })]);
    expect(p.resolveBuild("gone")).toEqual({ kind: "none", skipped: "needs a feature" });
  });

  it("reads PREFERRED_PROVIDERS (name:pn pairs) as PREFERRED_PROVIDER_name, which wins over it", () => {
    const a = recipe("db-one", { provides: ["db-one", "virtual/db"] });
    const b = recipe("db-two", { provides: ["db-two", "virtual/db"] });
    const d = new DataStore();
    expect(new Providers([a, b], d).resolveBuild("virtual/db").kind).toBe("multiple");
    d.setVar("PREFERRED_PROVIDERS", "virtual/db:db-two malformed virtual/other:x");
    expect(pnOf(new Providers([a, b], d).resolveBuild("virtual/db"))).toBe("db-two");
    d.setVar("PREFERRED_PROVIDER_virtual/db", "db-one");
    expect(pnOf(new Providers([a, b], d).resolveBuild("virtual/db"))).toBe("db-one");
  });

  it("prefers PREFERRED_PROVIDER, then the recipe whose PN is the name, else names every candidate", () => {
    const a = recipe("gcc", { provides: ["gcc", "virtual/cc"] });
    const b = recipe("clang", { provides: ["clang", "virtual/cc", "gcc"] });
    const d = new DataStore();
    const p = new Providers([a, b], d);
    expect(pnOf(p.resolveBuild("gcc"))).toBe("gcc");
    const multiple = p.resolveBuild("virtual/cc");
    expect(multiple.kind === "multiple" && multiple.candidates.map((c) => c.pn)).toEqual(["gcc", "clang"]);
    d.setVar("PREFERRED_PROVIDER_virtual/cc", "clang");
    const preferring = new Providers([a, b], d);
    expect(pnOf(preferring.resolveBuild("virtual/cc"))).toBe("clang");
    // at build time, being preferred for another name does not win this one
    expect(pnOf(preferring.resolveBuild("gcc"))).toBe("gcc");
  });

  it("asks a plugin's ProviderIndex instead of indexing its recipes, answering exactly as indexing them would", () => {
    // a group of virtual recipes looked up by name: pkg-a (RPROVIDES awk), pkg-b (RPROVIDES awk), pkg-c
    const group: RecipeInfo[] = [];
    const index: ProviderIndex = {
      build: (name) => group.filter((r) => r.provides.includes(name)),
      packageOwners: (name) => group.filter((r) => r.packages.includes(name)),
      runtime: (name) => group.filter((r) => r.packages.includes(name) || Object.values(r.rprovides).some((l) => l.includes(name))),
    };
    const member = (pn: string, extra: Partial<RecipeInfo> = {}) => {
      const r = recipe(pn, { virtual: true, providerIndex: index, ...extra });
      group.push(r);
      return r;
    };
    const a = member("pkg-a", { rprovides: { "pkg-a": ["awk"] } });
    const b = member("pkg-b", { rprovides: { "pkg-b": ["awk"] } });
    const shadowed = member("pkg-c");
    member("pkg-skipped", { skipped: "not for this machine" });
    // a recipe file of the same PN as a group member is chosen over it (PREFERRED_VERSION, priorities)
    const file = recipe("pkg-c", { rprovides: { "pkg-c": ["editor"] } });
    const fileProvidingAwk = recipe("mawk", { rprovides: { mawk: ["awk"] } });
    const d = new DataStore();
    const preferred = new Map([a, b, file, fileProvidingAwk].map((r) => [r.pn, r]));
    const all = [...group, file, fileProvidingAwk];
    const p = new Providers(preferred, d, all);
    expect(pnOf(p.resolveBuild("pkg-a"))).toBe("pkg-a");
    expect(p.resolveBuild("pkg-c")).toEqual({ kind: "recipe", recipe: file });
    expect(p.resolveBuild("pkg-c")).not.toEqual({ kind: "recipe", recipe: shadowed });
    expect(p.resolveBuild("pkg-skipped")).toEqual({ kind: "none", skipped: "not for this machine" });
    expect(pnOf(p.resolveRuntime("pkg-b"))).toBe("pkg-b");
    // the file's providers and the group's together, as one index of all of them gives
    const awk = p.resolveRuntime("awk");
    expect(awk.kind === "multiple" && awk.candidates.map((c) => c.pn).sort()).toEqual(["mawk", "pkg-a", "pkg-b"]);
    d.setVar("PREFERRED_RPROVIDER_awk", "pkg-b");
    expect(pnOf(new Providers(preferred, d, all).resolveRuntime("awk"))).toBe("pkg-b");
    // the same answers from recipes indexed one by one
    const plain = (r: RecipeInfo): RecipeInfo => ({ ...r, providerIndex: undefined });
    const indexed = new Providers(new Map([...preferred].map(([pn, r]) => [pn, plain(r)])), d, all.map(plain));
    expect(pnOf(indexed.resolveRuntime("awk"))).toBe("pkg-b");
    expect(pnOf(indexed.resolveBuild("pkg-c"))).toBe("pkg-c");
    expect(indexed.resolveBuild("pkg-skipped").kind).toBe("none");
  });
});
