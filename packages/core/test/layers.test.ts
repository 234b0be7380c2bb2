import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Kiln, KilnError, clearFileCache, approvedVariables, cleanEnvironment, appendsFor } from "../src/index.js";
import { expectThrown, twoLayerBuild, tempTree, type TempTree } from "./helpers.js";

const ENV = { PATH: "/usr/bin:/bin", HOME: "/root" };
let tree: TempTree;

function kilnIn(t: TempTree, env: NodeJS.ProcessEnv = ENV): Kiln {
  return new Kiln({ cwd: t.path("build"), env, threads: 1 });
}

beforeEach(() => clearFileCache());
afterEach(() => tree?.remove());

describe("configuration from a build directory", () => {
  it("reads bblayers.conf, every layer.conf with LAYERDIR, then bitbake.conf and local.conf", () => {
    tree = twoLayerBuild();
    const c = kilnIn(tree).configuration();
    expect(c.topdir).toBe(tree.path("build"));
    expect(c.layers.map((l) => [l.collection, l.path, l.priority])).toEqual([
      ["a", tree.path("meta-a"), 5],
      ["b", tree.path("meta-b"), 7],
    ]);
    // LAYERDIR references were made concrete per layer, and LAYERDIR itself is gone
    expect(c.d.getVar("BBFILE_PATTERN_b")).toBe(`^${tree.path("meta-b")}/`);
    expect(c.d.getVar("LAYERDIR")).toBeUndefined();
    // local.conf (included by the base layer's bitbake.conf) was read
    expect(c.d.getVar("MACHINE")).toBe("m1");
    expect(c.d.getVar("TMPDIR")).toBe(`${tree.path("build")}/tmp`);
    // base.bbclass was inherited into the configuration
    expect(c.d.getVar("__BBTASKS", false)).toContain("do_build");
  });

  it("finds bblayers.conf from a subdirectory of the build directory", () => {
    tree = twoLayerBuild({ "build/sub/dir/.keep": "" });
    const c = new Kiln({ cwd: tree.path("build/sub/dir"), env: ENV }).configuration();
    expect(c.topdir).toBe(tree.path("build"));
  });

  it("a layer that depends on a collection not in BBLAYERS is a LAYER_ERROR naming both", () => {
    tree = twoLayerBuild({
      "build/conf/bblayers.conf": `BBPATH = "\${TOPDIR}"\nBBLAYERS = "\${TOPDIR}/../meta-b"\n`,
    });
    let err: unknown;
    try {
      kilnIn(tree).configuration();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KilnError);
    expect((err as KilnError).code).toBe("LAYER_ERROR");
    expect((err as KilnError).message).toMatch(/Layer 'b' depends on layer 'a', but this layer is not enabled/);
  });

  /** meta-a and meta-b with `a` and `b` as layer.conf tails (collections, patterns, BBFILES set already). */
  const layerConfs = (a: string, b: string, bblayers = `BBPATH = "\${TOPDIR}"\nBBFILES ?= ""\nBBLAYERS ?= "\${TOPDIR}/../meta-a \${TOPDIR}/../meta-b"\n`) =>
    twoLayerBuild({
      "build/conf/bblayers.conf": bblayers,
      "meta-a/conf/layer.conf": `BBPATH .= ":\${LAYERDIR}"\nBBFILES += "\${LAYERDIR}/recipes/*.bb"\nBBFILE_COLLECTIONS += "a"\nBBFILE_PATTERN_a = "^\${LAYERDIR}/"\n${a}`,
      "meta-b/conf/layer.conf": `BBPATH .= ":\${LAYERDIR}"\nBBFILES += "\${LAYERDIR}/recipes/*.bb"\nBBFILE_COLLECTIONS += "b"\nBBFILE_PATTERN_b = "^\${LAYERDIR}/"\n${b}`,
      "meta-a/recipes/x_1.0.bb": "",
      "meta-b/recipes/y_1.0.bb": "",
    });
  const priorities = (t: TempTree) => Object.fromEntries(kilnIn(t).configuration().layers.map((l) => [l.collection, l.priority]));

  it("LAYERDEPENDS version constraints are checked against LAYERVERSION, as BitBake's", () => {
    tree = layerConfs(`LAYERVERSION_a = "3"\nBBFILE_PRIORITY_a = "5"\n`, `BBFILE_PRIORITY_b = "6"\nLAYERDEPENDS_b = "a (>= 2)"\n`);
    expect(priorities(tree)).toEqual({ a: 5, b: 6 });
    tree.remove();
    tree = layerConfs(`LAYERVERSION_a = "1"\n`, `LAYERDEPENDS_b = "a (>= 2)"\n`);
    expect(() => kilnIn(tree).configuration()).toThrow(/Layer 'b' depends on version >= 2 of layer 'a', but version 1 is currently enabled/);
    tree.remove();
    tree = layerConfs("", `LAYERDEPENDS_b = "a (>= 2)"\n`);
    expect(() => kilnIn(tree).configuration()).toThrow(/depends on version >= 2 of layer 'a', which exists in your configuration but does not specify a version/);
  });

  it("a layer without BBFILE_PRIORITY gets one above what it depends on or recommends; the lowest explicit priority is the floor", () => {
    tree = layerConfs(`BBFILE_PRIORITY_a = "4"\n`, `LAYERDEPENDS_b = "a"\n`);
    expect(priorities(tree)).toEqual({ a: 4, b: 5 });
    tree.remove();
    // a recommendation that is present counts; one that is absent is ignored, not an error
    tree = layerConfs(`BBFILE_PRIORITY_a = "9"\n`, `LAYERRECOMMENDS_b = "a nosuchlayer"\n`);
    expect(priorities(tree)).toEqual({ a: 9, b: 10 });
    tree.remove();
    tree = layerConfs(`BBFILE_PRIORITY_a = "9"\n`, "");
    expect(priorities(tree)).toEqual({ a: 9, b: 10 }); // depends on nothing: lowest explicit + 1
    tree.remove();
    tree = layerConfs(`BBFILE_PRIORITY_a = "0"\n`, `BBFILE_PRIORITY_b = "5"\nLAYERRECOMMENDS_b = ""\n`);
    expect(priorities(tree)).toEqual({ a: 6, b: 5 }); // 0 counts as unset: the lowest explicit (5) + 1, as BitBake's calc_layer_priority
    tree.remove();
    tree = layerConfs(`BBFILE_PRIORITY_a = "high"\n`, "");
    expect(() => kilnIn(tree).configuration()).toThrow(/invalid value for BBFILE_PRIORITY_a: "high"/);
  });

  it("BBFILE_PATTERN is required, an empty one matches no recipe (a warning, unless BBFILE_PATTERN_IGNORE_EMPTY), and a collection may be named once", async () => {
    tree = layerConfs(`BBFILE_PATTERN_a = ""\n`, "");
    const parsed = await kilnIn(tree).parseAll();
    expect(parsed.recipes.map((r) => r.pn).sort()).toEqual(["x", "y"]);
    expect(parsed.warnings).toContain("No bb files in default matched BBFILE_PATTERN_a ''");
    tree.remove();
    tree = layerConfs(`BBFILE_PATTERN_a = ""\nBBFILE_PATTERN_IGNORE_EMPTY_a = "1"\n`, "");
    expect((await kilnIn(tree).parseAll()).warnings.filter((w) => w.startsWith("No bb files"))).toEqual([]);
    tree.remove();
    tree = layerConfs(`unset BBFILE_PATTERN_a\n`, `BBFILE_COLLECTIONS += "a"\n`);
    expect(() => kilnIn(tree).configuration()).toThrow(/BBFILE_COLLECTIONS names 'a' twice[\s\S]*BBFILE_PATTERN_a not defined/);
  });

  it("a layer nested in another's directory gives its recipes its own priority (patterns matched innermost first, as BitBake sorts them)", async () => {
    tree = twoLayerBuild({
      "build/conf/bblayers.conf": `BBPATH = "\${TOPDIR}"\nBBFILES ?= ""\nBBLAYERS ?= "\${TOPDIR}/../meta-a \${TOPDIR}/../meta-a/meta-b"\n`,
      "meta-a/conf/layer.conf": `BBPATH .= ":\${LAYERDIR}"\nBBFILES += "\${LAYERDIR}/recipes/*.bb"\nBBFILE_COLLECTIONS += "a"\nBBFILE_PATTERN_a = "^\${LAYERDIR}/"\nBBFILE_PRIORITY_a = "5"\n`,
      "meta-a/meta-b/conf/layer.conf": `BBPATH .= ":\${LAYERDIR}"\nBBFILES += "\${LAYERDIR}/recipes/*.bb"\nBBFILE_COLLECTIONS += "b"\nBBFILE_PATTERN_b = "^\${LAYERDIR}/"\nBBFILE_PRIORITY_b = "10"\n`,
      "meta-a/recipes/foo_1.0.bb": `WHO = "outer"\n`,
      "meta-a/meta-b/recipes/foo_1.0.bb": `WHO = "inner"\n`,
    });
    const k = kilnIn(tree);
    expect(k.configuration().layers.map((l) => [l.collection, l.priority])).toEqual([["a", 5], ["b", 10]]);
    const info = await k.findRecipe("foo");
    expect(info.file).toBe(tree.path("meta-a/meta-b/recipes/foo_1.0.bb"));
  });

  it("LAYERSERIES_COMPAT must share a name with LAYERSERIES_CORENAMES", () => {
    tree = layerConfs(`LAYERSERIES_CORENAMES = "scarthgap styhead"\nLAYERSERIES_COMPAT_a = "styhead"\n`, `LAYERSERIES_COMPAT_b = "kirkstone"\n`);
    expect(() => kilnIn(tree).configuration()).toThrow(/Layer b is not compatible with the core layer which only supports these series: scarthgap styhead \(layer is compatible with kirkstone\)/);
    tree.remove();
    tree = layerConfs("", `LAYERSERIES_COMPAT_b = "kirkstone"\n`);
    expect(() => kilnIn(tree).configuration()).toThrow(/No core layer found to work with layer 'b'/);
  });

  it("BBFILES_DYNAMIC adds a pattern when its collection is (or, with !, is not) in the configuration", async () => {
    const dyn = `BBFILES_DYNAMIC += "a:\${LAYERDIR}/dynamic-a/*.bb !nosuch:\${LAYERDIR}/dynamic-none/*.bb nosuch:\${LAYERDIR}/never/*.bb"\n`;
    tree = layerConfs("", dyn);
    tree.write("meta-b/dynamic-a/da_1.0.bb", "");
    tree.write("meta-b/dynamic-none/dn_1.0.bb", "");
    tree.write("meta-b/never/nv_1.0.bb", "");
    const parsed = await kilnIn(tree).parseAll();
    expect(parsed.recipes.map((r) => r.pn).sort()).toEqual(["da", "dn", "x", "y"]);
    tree.remove();
    tree = layerConfs("", `BBFILES_DYNAMIC = "no-colon-here"\n`);
    expect(() => kilnIn(tree).configuration()).toThrow(/BBFILES_DYNAMIC entries must be of the form/);
  });

  it("a renamed variable (BitBake's own, or BB_RENAMED_VARIABLES) is an error naming the new name and where it was set", async () => {
    tree = twoLayerBuild({ "build/conf/local.conf": `MACHINE = "m1"\nBB_ENV_WHITELIST = "FOO"\nBB_STAMP_POLICY = "full"\n` });
    const err = expectThrown(() => kilnIn(tree).configuration(), KilnError, "PARSE_ERROR");
    expect(err.message).toContain(`Variable BB_ENV_WHITELIST has been renamed to BB_ENV_PASSTHROUGH (file: ${tree.path("build/conf/local.conf")} line: 2)`);
    // in the shell environment too (where it would otherwise be dropped without a word)
    const fromEnv = expectThrown(() => new Kiln({ cwd: tree.path("build"), env: { ...ENV, BB_ENV_EXTRAWHITE: "FOO" } }).configuration(), KilnError, "PARSE_ERROR");
    expect(fromEnv.message).toBe("Shell environment variable BB_ENV_EXTRAWHITE has been renamed to BB_ENV_PASSTHROUGH_ADDITIONS");
    expect(err.message).toContain("Variable BB_STAMP_POLICY is a deprecated variable and support has been removed");
    tree.remove();
    // a layer's own renames; a recipe that uses the old name fails to parse, the others parse
    tree = twoLayerBuild({
      "meta-a/conf/layer.conf":
        `BBPATH .= ":\${LAYERDIR}"\nBBFILES += "\${LAYERDIR}/recipes/*.bb"\nBBFILE_COLLECTIONS += "a"\nBBFILE_PATTERN_a = "^\${LAYERDIR}/"\nBBFILE_PRIORITY_a = "5"\n` +
        `BB_RENAMED_VARIABLES[OLD_FLAGS] = "NEW_FLAGS"\n`,
      "meta-a/recipes/old_1.0.bb": `OLD_FLAGS:append = " x"\n`,
      "meta-a/recipes/oldflag_1.0.bb": `OLD_FLAGS[doc] = "x"\n`,
      "meta-a/recipes/fine_1.0.bb": `NEW_FLAGS = "x"\n`,
    });
    const parsed = await kilnIn(tree).parseAll();
    expect(parsed.recipes.map((r) => r.pn)).toEqual(["fine"]);
    const messages = parsed.errors.map((e) => e.message).join("\n");
    expect(messages).toMatch(/Variable OLD_FLAGS has been renamed to NEW_FLAGS \(file: .*old_1\.0\.bb line: 1 referenced as: OLD_FLAGS:append\)/);
    expect(messages).toMatch(/Variable OLD_FLAGS has been renamed to NEW_FLAGS \(file: .*oldflag_1\.0\.bb line: 1\)/);
  });

  it("a BBLAYERS entry that does not exist is a LAYER_ERROR", () => {
    tree = twoLayerBuild({ "build/conf/bblayers.conf": `BBPATH = "\${TOPDIR}"\nBBLAYERS = "\${TOPDIR}/../nope"\n` });
    expect(() => kilnIn(tree).configuration()).toThrow(/do not exist.*nope/);
  });

  it("without bblayers.conf, BBPATH from the environment and BBFILES from the configuration are used", async () => {
    tree = tempTree({
      "conf/bitbake.conf": `TMPDIR = "\${TOPDIR}/tmp"\nBBFILES = "\${TOPDIR}/recipes/*.bb"\n`,
      "classes/base.bbclass": `do_build() {\n\t:\n}\naddtask build\n`,
      "recipes/one.bb": `PN = "one"\n`,
      "recipes/two.bb": `PN = "two"\n`,
    });
    const kiln = new Kiln({ cwd: tree.dir, env: { ...ENV, BBPATH: tree.dir }, threads: 1 });
    const r = await kiln.parseAll();
    expect([...r.preferred.keys()].sort()).toEqual(["one", "two"]);
    // the layer's own base.bbclass (first on BBPATH) was used, not the base layer's
    expect(r.recipes.find((i) => i.pn === "one")?.tasks.map((t) => t.name)).toEqual(["do_build"]);
  });

  it("no BBPATH and no bblayers.conf is a clear LAYER_ERROR", () => {
    tree = tempTree({ "x/.keep": "" });
    const kiln = new Kiln({ cwd: tree.path("x"), env: ENV });
    expect(() => kiln.configuration()).toThrow(/BBPATH variable is not set/);
  });
});

describe("environment passthrough", () => {
  it("keeps BitBake's preserved variables and the usual additions, drops the rest", () => {
    const clean = cleanEnvironment({ PATH: "/bin", HOME: "/h", DL_DIR: "/dl", SSTATE_DIR: "/ss", http_proxy: "p", RANDOM_THING: "x", MACHINE: "m", TMPDIR: "/var/tmp" });
    expect(clean).toEqual({ PATH: "/bin", HOME: "/h", DL_DIR: "/dl", SSTATE_DIR: "/ss", http_proxy: "p", MACHINE: "m" });
    // the scratch-directory TMPDIR of the environment is not the build's TMPDIR, unless asked for
    expect(cleanEnvironment({ TMPDIR: "/var/tmp", BB_ENV_PASSTHROUGH_ADDITIONS: "TMPDIR" }).TMPDIR).toBe("/var/tmp");
  });

  it("BB_ENV_PASSTHROUGH_ADDITIONS adds names; BB_ENV_PASSTHROUGH replaces the list", () => {
    expect(approvedVariables({ BB_ENV_PASSTHROUGH_ADDITIONS: "FOO BAR" }).has("FOO")).toBe(true);
    const only = approvedVariables({ BB_ENV_PASSTHROUGH: "ONLY" });
    expect(only.has("ONLY")).toBe(true);
    expect(only.has("PATH")).toBe(false);
    expect(approvedVariables({ BB_PRESERVE_ENV: "1", ANYTHING: "x" }).has("ANYTHING")).toBe(true);
  });

  it("approved variables enter the configuration; PATH and HOME are exported", () => {
    tree = twoLayerBuild();
    const d = kilnIn(tree, { ...ENV, BB_ENV_PASSTHROUGH_ADDITIONS: "MYVAR", MYVAR: "from-env", OTHER: "no" }).configuration().d;
    expect(d.getVar("MYVAR")).toBe("from-env");
    expect(d.getVar("OTHER")).toBeUndefined();
    expect(d.getVarFlag("PATH", "export")).toBeTruthy();
    expect(d.getVarFlag("MYVAR", "export")).toBeUndefined();
  });
});

describe("recipes, appends and versions", () => {
  it("PN, PV and PR come from name_version_revision.bb", async () => {
    tree = twoLayerBuild({ "meta-a/recipes/foo_1.2_r3.bb": "", "meta-a/recipes/bar_0.5.bb": "" });
    const r = await kilnIn(tree).parseAll();
    const foo = r.preferred.get("foo");
    expect([foo?.pn, foo?.pv, foo?.pr]).toEqual(["foo", "1.2", "r3"]);
    expect(r.preferred.get("bar")?.pr).toBe("r0");
  });

  it("a .bbappend applies to its recipe; % matches any version; appends apply in layer order", async () => {
    tree = twoLayerBuild({
      "meta-a/recipes/foo_1.2.bb": `X = "base"\n`,
      "meta-a/recipes/foo_1.2.bbappend": `X .= " a-exact"\n`,
      "meta-b/recipes/foo_%.bbappend": `X .= " b-any"\n`,
      "meta-b/recipes/foo_2.%.bbappend": `X .= " never"\n`,
      "build/conf/local.conf": `BB_DANGLINGAPPENDS_WARNONLY = "1"\n`,
    });
    const kiln = kilnIn(tree);
    await kiln.parseAll();
    const info = await kiln.findRecipe("foo");
    expect(info.appends).toEqual([tree.path("meta-a/recipes/foo_1.2.bbappend"), tree.path("meta-b/recipes/foo_%.bbappend")]);
    expect(kiln.parseRecipe(info.file, info.appends).getVar("X")).toBe("base a-exact b-any");
  });

  it("a .bbappend matching no recipe is an error unless BB_DANGLINGAPPENDS_WARNONLY", async () => {
    tree = twoLayerBuild({ "meta-a/recipes/foo_1.0.bb": "", "meta-b/recipes/ghost_%.bbappend": "" });
    await expect(kilnIn(tree).parseAll()).rejects.toThrow(/No recipes match.*ghost_%\.bbappend/);
    tree.write("build/conf/local.conf", `BB_DANGLINGAPPENDS_WARNONLY = "1"\n`);
    clearFileCache();
    const r = await kilnIn(tree).parseAll();
    expect(r.warnings.join()).toMatch(/ghost/);
  });

  it("appendsFor matches exact names and % prefixes only", () => {
    const appends = ["/l/foo_1.0.bbappend", "/l/foo_%.bbappend", "/l/foo-bar_%.bbappend", "/l/fo_%.bbappend"];
    expect(appendsFor("/r/foo_1.0.bb", appends)).toEqual(["/l/foo_1.0.bbappend", "/l/foo_%.bbappend"]);
    expect(appendsFor("/r/foo_2.0.bb", appends)).toEqual(["/l/foo_%.bbappend"]);
  });

  it("the highest version wins within a layer; PREFERRED_VERSION (with %) overrides", async () => {
    tree = twoLayerBuild({
      "meta-a/recipes/foo_1.9.bb": "",
      "meta-a/recipes/foo_1.10.bb": "",
      "meta-a/recipes/foo_1.10~rc1.bb": "",
    });
    expect((await kilnIn(tree).parseAll()).preferred.get("foo")?.pv).toBe("1.10");
    tree.write("build/conf/local.conf", `PREFERRED_VERSION_foo = "1.9%"\n`);
    clearFileCache();
    expect((await kilnIn(tree).parseAll()).preferred.get("foo")?.pv).toBe("1.9");
  });

  it("as BitBake, a higher layer priority beats a higher version; DEFAULT_PREFERENCE beats version", async () => {
    tree = twoLayerBuild({
      "meta-a/recipes/foo_2.0.bb": "",
      "meta-b/recipes/foo_1.0.bb": "",
      "meta-a/recipes/bar_2.0.bb": `DEFAULT_PREFERENCE = "-1"\n`,
      "meta-a/recipes/bar_1.0.bb": "",
    });
    const r = await kilnIn(tree).parseAll();
    expect(r.preferred.get("foo")?.file).toBe(tree.path("meta-b/recipes/foo_1.0.bb"));
    expect(r.preferred.get("bar")?.pv).toBe("1.0");
  });

  it("a recipe that fails to parse is reported with its file and line; the others still parse", async () => {
    tree = twoLayerBuild({ "meta-a/recipes/good_1.0.bb": `A = "1"\n`, "meta-a/recipes/bad_1.0.bb": `A = "1"\nB = oops\n` });
    const r = await kilnIn(tree).parseAll();
    expect(r.stats.errors).toBe(1);
    expect(r.errors[0].code).toBe("PARSE_ERROR");
    expect(r.errors[0].message).toContain(`${tree.path("meta-a/recipes/bad_1.0.bb")}:2:5`);
    expect(r.preferred.has("good")).toBe(true);
  });

  it("kiln.skipRecipe in an anonymous function marks the recipe skipped, not failed", async () => {
    tree = twoLayerBuild({ "meta-a/recipes/skip_1.0.bb": `js () {\n    kiln.skipRecipe("not for this machine")\n}\n` });
    const r = await kilnIn(tree).parseAll();
    expect(r.stats.skipped).toBe(1);
    expect(r.stats.errors).toBe(0);
    await expect(kilnIn(tree).findRecipe("skip")).rejects.toThrow(/skipped: not for this machine/);
  });

  it("a recipe that sets BB_DONT_CACHE is parsed on every run; the others come from the parse cache", async () => {
    tree = twoLayerBuild({
      "meta-a/recipes/fresh_1.0.bb": `BB_DONT_CACHE = "\${@'1'}"\n`,
      "meta-a/recipes/kept_1.0.bb": `BB_DONT_CACHE = "\${@''}"\n`,
    });
    const first = await kilnIn(tree).parseAll();
    expect(first.stats).toMatchObject({ parsed: 2, cached: 0 });
    clearFileCache();
    const second = await kilnIn(tree).parseAll();
    expect(second.stats).toMatchObject({ parsed: 1, cached: 1 });
    expect(second.recipes.map((r) => r.pn).sort()).toEqual(["fresh", "kept"]);
  });

  it("BBMASK hides recipes", async () => {
    tree = twoLayerBuild({ "meta-a/recipes/foo_1.0.bb": "", "meta-a/recipes/hidden_1.0.bb": "", "build/conf/local.conf": `BBMASK = "hidden_"\n` });
    const r = await kilnIn(tree).parseAll();
    expect(r.stats.masked).toBe(1);
    expect(r.preferred.has("hidden")).toBe(false);
  });

  it("tasks and their dependency flags are in the recipe info", async () => {
    tree = twoLayerBuild({
      "meta-a/recipes/foo_1.0.bb": `DEPENDS = "bar"\ndo_x() {\n\t:\n}\naddtask x after do_compile before do_build\ndo_x[depends] = "baz:do_install"\n`,
    });
    const info = (await kilnIn(tree).parseAll()).preferred.get("foo");
    const x = info?.tasks.find((t) => t.name === "do_x");
    expect(x?.deps).toEqual(["do_compile"]);
    expect(x?.flags.depends).toBe("baz:do_install");
    expect(info?.tasks.find((t) => t.name === "do_build")?.deps).toContain("do_x");
    expect(info?.depends).toEqual(["bar"]);
  });
});
