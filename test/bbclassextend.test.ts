/**
 * BBCLASSEXTEND = "native" end to end: the variants are recipes of their own
 * (`virtual:native:FILE`, PN `${PN}-native`), kept in the parse cache with the recipe,
 * shown by `-b virtual:native:FILE` and `-r`, built through DEPENDS; the base layer's
 * native.bbclass maps build-time names to their -native forms and keeps BPN the
 * source's name.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTree, type BuildTree } from "./helpers/build-tree.js";

/** Task bodies that record `PN:task` instead of doing anything. */
const RECORDING = ["fetch", "unpack", "patch", "configure", "compile", "install"].map((t) => `do_${t}() {\n\techo "\${PN}:\${BB_CURRENTTASK}" >> \${RECORD}\n}\n`).join("");

describe("BBCLASSEXTEND = \"native\"", () => {
  let tree: BuildTree;
  let tool: string;
  beforeAll(() => {
    // a packaging class from the configuration, as PACKAGE_CLASSES adds one
    tree = buildTree({ local: `INHERIT += "pkgtask"`, files: { "meta-t/classes/pkgtask.bbclass": `do_package () {\n\t:\n}\naddtask package after do_install before do_build\n` } });
    tree.recipe("zlib_1.0.bb", `BBCLASSEXTEND = "native"\n${RECORDING}`);
    // tool DEPENDS on its own native build (as python3 does): its variant must not depend on itself
    tool = tree.recipe("tool_2.0.bb", `BBCLASSEXTEND = "native"\nDEPENDS = "zlib tool-native (>= 2.0)"\nDEPENDS:append:class-native = " extra"\nDEPENDS:remove:class-native = "extra-native extra"\n${RECORDING}`);
    tree.recipe("app_1.0.bb", `DEPENDS = "tool-native"\n${RECORDING}`);
    // a recipe that inherits native itself keeps its names
    tree.recipe("own-native_1.0.bb", `inherit native\nDEPENDS = "zlib"\n${RECORDING}`);
  });
  afterAll(() => tree.remove());

  it("parses each variant as a recipe of its own, and again from the parse cache", async () => {
    const first = await tree.kiln(["-p"]);
    expect(first.code, first.all).toBe(0);
    expect(first.out).toMatch(/4 recipes, 4 parsed, 0 from cache.*, 2 variants/);
    const again = await tree.kiln(["-p"]);
    expect(again.out).toMatch(/4 recipes, 0 parsed, 4 from cache.*, 2 variants/);
  });

  it("shows a variant by its virtual file name and by its PN: renamed, with the class's override and -native build dependencies", async () => {
    const show = async (name: string, ...args: string[]) => {
      const r = await tree.kiln(["getvar", name, "--value", ...args]);
      expect(r.code, r.all).toBe(0);
      return r.out.trim();
    };
    expect(await show("PN", "-b", `virtual:native:${tool}`)).toBe("tool-native");
    expect(await show("BPN", "-b", `virtual:native:${tool}`)).toBe("tool");
    expect(await show("S", "-r", "tool-native")).toMatch(/\/tool-2\.0$/); // the sources are still tool's
    expect(await show("DEPENDS", "-r", "tool-native")).toBe("zlib-native");
    expect((await show("OVERRIDES", "-r", "tool-native")).split(":")).toContain("class-native");
    expect(await show("DEPENDS", "-r", "own-native")).toBe("zlib");
    // no packaging tasks in a native variant (nopackages), the recipe keeps its own
    const tasks = async (name: string) => (await tree.kiln(["-c", "listtasks", name])).out.split("\n").map((l) => l.split(/\s+/)[0]);
    expect(await tasks("tool")).toContain("do_package");
    expect(await tasks("tool-native")).not.toContain("do_package");
    expect(await show("BPN", "-r", "own-native")).toBe("own");
    // the recipe itself is untouched
    expect(await show("PN", "-b", tool)).toBe("tool");
    expect(await show("DEPENDS", "-r", "tool")).toBe("zlib tool-native (>= 2.0)");
    const missing = await tree.kiln(["getvar", "PN", "-b", `virtual:nativesdk:${tool}`]);
    expect(missing.code).not.toBe(0);
    expect(missing.err).toMatch(/has no BBCLASSEXTEND variant 'nativesdk'/);
  });

  it("builds the -native variants a recipe depends on, not the target recipes they come from", async () => {
    const r = await tree.kiln(["app"]);
    expect(r.code, r.all).toBe(0);
    const ran = tree.lines("record");
    expect(ran).toContain("tool-native:compile");
    expect(ran).toContain("zlib-native:compile");
    expect(ran).toContain("app:compile");
    expect(ran.filter((l) => l.startsWith("tool:") || l.startsWith("zlib:"))).toEqual([]);
    // zlib-native's install came before tool-native's configure (DEPENDS between variants)
    expect(ran.indexOf("zlib-native:install")).toBeLessThan(ran.indexOf("tool-native:configure"));
  });
});
