/** Provider choice on RecipeInfo records (the CLI-level cases live in test/task-graph.test.ts). */
import { describe, expect, it } from "vitest";
import { DataStore, Providers, type RecipeInfo } from "../src/index.js";

function recipe(pn: string, extra: Partial<RecipeInfo> = {}): RecipeInfo {
  return {
    file: `/l/${pn}.bb`,
    appends: [],
    pn,
    pe: "",
    pv: "1.0",
    pr: "r0",
    provides: [pn],
    depends: [],
    packages: [pn],
    rdepends: {},
    rrecommends: {},
    rprovides: {},
    defaultPreference: 0,
    excludeFromWorld: false,
    stamp: `/s/${pn}`,
    tasks: [],
    ...extra,
  };
}

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
});
