/**
 * BBCLASSEXTEND as BitBake's multi_finalize makes its variants: one evaluation of the
 * recipe and its appends, a finalised copy for the recipe itself, and for each name in
 * the finalised BBCLASSEXTEND a copy of the unfinalised store (its deferred inherits
 * resolved first) that gets the class and is finalised on its own.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DataStore, ParseError, parseRecipeFile, parseRecipeVariants, splitVariantFile, variantFile } from "@kiln/core";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A directory with `files` (relative paths), and a configuration store whose BBPATH is it. */
function layer(files: Record<string, string>): { dir: string; base: DataStore } {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "kiln-classextend-")));
  dirs.push(dir);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  const base = new DataStore();
  base.setVar("BBPATH", dir);
  base.setVar("PN", "tool");
  return { dir, base };
}

const NATIVE_CLASS = `NATIVE_CLASS_SEEN = "1"\nCLASS_PN := "\${PN}"\njs __anonymous () {\n    d.setVar("NATIVE_ANON_PN", d.getVar("PN"))\n}\n`;

describe("BBCLASSEXTEND", () => {
  it("makes ${PN}-native from the unfinalised recipe: the class is inherited into the copy only, anonymous functions run in each", () => {
    const { dir, base } = layer({
      "classes/native.bbclass": NATIVE_CLASS,
      "tool.bb": `BBCLASSEXTEND = "native"\nX = "x"\nX:append = "-appended"\njs __anonymous () {\n    d.setVar("ANON_PN", d.getVar("PN"))\n    d.setVar("RUNS", String(Number(d.getVar("RUNS") ?? "0") + 1))\n}\n`,
    });
    const stores = parseRecipeVariants(base.createCopy(), join(dir, "tool.bb"));
    expect([...stores.keys()]).toEqual(["", "native"]);
    const [recipe, native] = [stores.get("")!, stores.get("native")!];
    expect(recipe.getVar("PN")).toBe("tool");
    expect(native.getVar("PN")).toBe("tool-native");
    // the class is the variant's alone, and sees the variant's PN
    expect(recipe.getVar("NATIVE_CLASS_SEEN")).toBeUndefined();
    expect(native.getVar("NATIVE_CLASS_SEEN")).toBe("1");
    expect(native.getVar("CLASS_PN")).toBe("tool-native");
    // each store is finalised once, from the same unfinalised state (not the recipe's finalised one)
    expect(recipe.getVar("ANON_PN")).toBe("tool");
    expect(native.getVar("ANON_PN")).toBe("tool-native");
    expect(native.getVar("NATIVE_ANON_PN")).toBe("tool-native");
    expect(recipe.getVar("RUNS")).toBe("1");
    expect(native.getVar("RUNS")).toBe("1");
    expect(native.getVar("X")).toBe("x-appended");
    // parseRecipeFile gives the recipe itself, no variant work
    expect(parseRecipeFile(base.createCopy(), join(dir, "tool.bb")).getVar("PN")).toBe("tool");
  });

  it("takes BBCLASSEXTEND as finalised (appends and overrides count) and `class:variant` sets BBEXTENDCURR/BBEXTENDVARIANT, not PN", () => {
    const { dir, base } = layer({
      "classes/native.bbclass": NATIVE_CLASS,
      "classes/multilib.bbclass": `ML_PN = "\${BBEXTENDVARIANT}-\${PN}"\n`,
      "tool.bb": `BBCLASSEXTEND = "native"\n`,
      "tool.bbappend": `BBCLASSEXTEND:append = " multilib:lib32 native"\n`,
    });
    const stores = parseRecipeVariants(base.createCopy(), join(dir, "tool.bb"), { appends: [join(dir, "tool.bbappend")] });
    expect([...stores.keys()]).toEqual(["", "native", "multilib:lib32"]); // a name listed twice is one variant
    const ml = stores.get("multilib:lib32")!;
    expect(ml.getVar("BBEXTENDCURR")).toBe("multilib");
    expect(ml.getVar("BBEXTENDVARIANT")).toBe("lib32");
    expect(ml.getVar("PN")).toBe("tool"); // the class renames it, as OpenEmbedded's multilib does
    expect(ml.getVar("ML_PN")).toBe("lib32-tool");
    expect(ml.getVar("NATIVE_CLASS_SEEN")).toBeUndefined();
    expect(stores.get("")!.getVar("BBEXTENDCURR")).toBeUndefined();
  });

  it("a variant that skips itself is skipped alone; a class that is missing fails the parse, naming it", () => {
    const { dir, base } = layer({
      "classes/native.bbclass": `js __anonymous () {\n    kiln.skipRecipe("no native build")\n}\n`,
      "tool.bb": `BBCLASSEXTEND = "native"\n`,
      "other.bb": `BBCLASSEXTEND = "nosuchclass"\n`,
    });
    const stores = parseRecipeVariants(base.createCopy(), join(dir, "tool.bb"));
    expect(stores.get("native")!.getVar("__SKIPPED")).toBe("no native build");
    expect(stores.get("")!.getVar("__SKIPPED")).toBeUndefined();
    expect(() => parseRecipeVariants(base.createCopy(), join(dir, "other.bb"))).toThrow(ParseError);
    expect(() => parseRecipeVariants(base.createCopy(), join(dir, "other.bb"))).toThrow(/Could not inherit file classes\/nosuchclass\.bbclass/);
  });

  it("`only` finalises the recipe and just the variant asked for", () => {
    const { dir, base } = layer({ "classes/native.bbclass": NATIVE_CLASS, "classes/nativesdk.bbclass": "", "tool.bb": `BBCLASSEXTEND = "native nativesdk"\n` });
    expect([...parseRecipeVariants(base.createCopy(), join(dir, "tool.bb"), { only: "nativesdk" }).keys()]).toEqual(["", "nativesdk"]);
  });

  it("BB_DEFER_BBCLASSES defers a plain inherit of a class it names to finalisation, after everything the recipe sets", () => {
    const { dir, base } = layer({ "classes/late.bbclass": `SEEN := "\${@d.getVar('WHEN') ?? 'unset'}"\n`, "tool.bb": `inherit late\nWHEN = "end of recipe"\n` });
    expect(parseRecipeFile(base.createCopy(), join(dir, "tool.bb")).getVar("SEEN")).toBe("unset"); // inherited at once: WHEN not set yet
    base.setVar("BB_DEFER_BBCLASSES", "other late");
    expect(parseRecipeFile(base.createCopy(), join(dir, "tool.bb")).getVar("SEEN")).toBe("end of recipe");
  });

  it("resolves the recipe's deferred inherits once, before the variants are made (a deferred class sees the recipe's PN in each); the variant's class comes after them", () => {
    const { dir, base } = layer({
      "classes/native.bbclass": `${NATIVE_CLASS}ORDER .= " native"\n`,
      "classes/late.bbclass": `LATE_PN := "\${PN}"\nORDER .= " late"\n`,
      "tool.bb": `BBCLASSEXTEND = "native"\ninherit_defer late\nORDER = "recipe"\n`,
    });
    const stores = parseRecipeVariants(base.createCopy(), join(dir, "tool.bb"));
    const [recipe, native] = [stores.get("")!, stores.get("native")!];
    expect(recipe.getVar("LATE_PN")).toBe("tool");
    expect(native.getVar("LATE_PN")).toBe("tool");
    expect(native.getVar("CLASS_PN")).toBe("tool-native");
    expect(recipe.getVar("ORDER")).toBe("recipe late");
    expect(native.getVar("ORDER")).toBe("recipe late native");
    // the variant is finalised (anonymous functions run) with its own PN
    expect(native.getVar("NATIVE_ANON_PN")).toBe("tool-native");
  });

  it("names variants as BitBake's virtual file names, and splits them back", () => {
    expect(variantFile("native", "/l/tool.bb")).toBe("virtual:native:/l/tool.bb");
    expect(variantFile("", "/l/tool.bb")).toBe("/l/tool.bb");
    expect(splitVariantFile("virtual:native:/l/tool.bb")).toEqual({ file: "/l/tool.bb", cls: "native" });
    expect(splitVariantFile("virtual:multilib:lib32:/l/tool.bb")).toEqual({ file: "/l/tool.bb", cls: "multilib:lib32" });
    expect(splitVariantFile("/l/tool.bb")).toEqual({ file: "/l/tool.bb", cls: "" });
  });
});
