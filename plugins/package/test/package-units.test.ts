/** @kiln/package's pieces: versions per format, dependency lists, FILES globs and splitting, ELF dynamic entries, pkgdata. */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { explodeDepVersions } from "@kiln/core";
import { debianArch, debianDepends, debianVersion, globRegExp, listTree, parsePackageData, readElfDynamic, splitTree } from "../src/index.js";
import { packageDataText as packageDataTextForTest } from "../src/pkgdata.js";

const dir = mkdtempSync(join(tmpdir(), "kiln-pkg-units-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("debianVersion", () => {
  it.each([
    [{ epoch: "", version: "1.0", revision: "r0" }, "1.0-r0"],
    [{ epoch: "2", version: "1.0~rc1", revision: "r3" }, "2:1.0~rc1-r3"],
    [{ epoch: "", version: "2024-01-05", revision: "r0" }, "2024-01-05-r0"],
    [{ epoch: "", version: "git+abc_def", revision: "r0" }, "0git+abc+def-r0"],
    [{ epoch: "", version: "1.0", revision: "" }, "1.0-0"],
    [{ epoch: "x", version: "1.0", revision: "r1-2" }, "1.0-r1+2"],
  ])("%j → %s, which dpkg accepts", (v, expected) => {
    expect(debianVersion(v)).toBe(expected);
    expect(() => execFileSync("dpkg", ["--validate-version", expected], { stdio: "pipe" })).not.toThrow();
  });

  it("keeps BitBake's ordering where dpkg compares: ~ before release, epoch first", () => {
    const lt = (a: string, b: string) => execFileSync("sh", ["-c", `dpkg --compare-versions '${a}' lt '${b}' && echo yes || echo no`], { encoding: "utf8" }).trim();
    const v = (version: string, epoch = "") => debianVersion({ epoch, version, revision: "r0" });
    expect(lt(v("1.0~rc1"), v("1.0"))).toBe("yes");
    expect(lt(v("9.9"), v("1.0", "1"))).toBe("yes");
    expect(lt(v("1.0"), v("1.0.1"))).toBe("yes");
  });
});

describe("architectures and dependency fields", () => {
  it("maps GNU architecture names to Debian's", () => {
    expect(["x86_64", "i686", "aarch64", "armv7a", "all", "riscv64"].map(debianArch)).toEqual(["amd64", "i386", "arm64", "armhf", "all", "riscv64"]);
  });

  it("reads BitBake dependency lists with constraints, and writes dpkg's strict operators", () => {
    const deps = explodeDepVersions("a (>= 1.0) b c (< 2) (> 1) d (= 3:1.0-r0)");
    expect([...deps]).toEqual([["a", [">= 1.0"]], ["b", []], ["c", ["< 2", "> 1"]], ["d", ["= 3:1.0-r0"]]]);
    expect(debianDepends(deps)).toBe("a (>= 1.0), b, c (<< 2), c (>> 1), d (= 3:1.0-r0)");
  });

  it("refuses a malformed list with a clear error", () => {
    expect(() => explodeDepVersions("a (>= 1.0")).toThrow(/unclosed version constraint in dependency list 'a \(>= 1\.0'/);
    expect(() => explodeDepVersions("(>= 1.0) a")).toThrow(/without a name/);
  });
});

describe("FILES globs and splitting", () => {
  it("matches like the shell: * and ? stop at /, ** crosses, classes work", () => {
    expect(globRegExp("/usr/lib/lib*.so.*").test("usr/lib/libgreet.so.1")).toBe(true);
    expect(globRegExp("/usr/lib/lib*.so.*").test("usr/lib/sub/libgreet.so.1")).toBe(false);
    expect(globRegExp("/usr/**/README").test("usr/share/doc/x/README")).toBe(true);
    expect(globRegExp("/usr/bin/[ab]?").test("usr/bin/a1")).toBe(true);
    expect(globRegExp("/usr/bin/[!ab]?").test("usr/bin/a1")).toBe(false);
  });

  it("gives each path to the first package that matches it; directories bring their contents", () => {
    const root = join(dir, "split");
    for (const f of ["usr/lib/libx.so.1.0", "usr/lib/libx.a", "usr/include/x.h", "usr/share/doc/x/README", "etc/x.conf", "opt/stray"]) {
      mkdirSync(join(root, f, ".."), { recursive: true });
      writeFileSync(join(root, f), f);
    }
    symlinkSync("libx.so.1.0", join(root, "usr/lib/libx.so"));
    const result = splitTree(listTree(root), [
      { name: "x-dev", patterns: ["/usr/include", "/usr/lib/lib*.so"] },
      { name: "x-staticdev", patterns: ["/usr/lib/*.a"] },
      { name: "x-doc", patterns: ["/usr/share/doc"] },
      { name: "x", patterns: ["/usr/lib/lib*.so*", "/etc", "/usr/include/x.h"] },
    ]);
    expect(result.packages.get("x-dev")).toEqual(["usr/include", "usr/include/x.h", "usr/lib/libx.so"]);
    expect(result.packages.get("x-staticdev")).toEqual(["usr/lib/libx.a"]);
    expect(result.packages.get("x-doc")).toEqual(["usr/share/doc", "usr/share/doc/x", "usr/share/doc/x/README"]);
    expect(result.packages.get("x")).toEqual(["usr/lib/libx.so.1.0", "etc", "etc/x.conf"]);
    expect(result.unshipped).toEqual(["opt/stray"]);
  });
});

describe("readElfDynamic", () => {
  it("reads SONAME and NEEDED from a shared library and a program, and nothing from other files", () => {
    writeFileSync(join(dir, "l.c"), "int f(void) { return 1; }\n");
    writeFileSync(join(dir, "m.c"), "int f(void);\nint main(void) { return f(); }\n");
    execFileSync("cc", ["-shared", "-fPIC", "-Wl,-soname,libl.so.7", "-o", join(dir, "libl.so.7"), join(dir, "l.c")]);
    execFileSync("cc", ["-o", join(dir, "m"), join(dir, "m.c"), join(dir, "libl.so.7")]);
    expect(readElfDynamic(join(dir, "libl.so.7"))?.soname).toBe("libl.so.7");
    const prog = readElfDynamic(join(dir, "m"));
    expect(prog?.soname).toBeUndefined();
    expect(prog?.needed).toEqual(expect.arrayContaining(["libl.so.7", "libc.so.6"]));
    expect(readElfDynamic(join(dir, "l.c"))).toBeUndefined();
    writeFileSync(join(dir, "truncated"), Buffer.concat([Buffer.from("\x7fELF\x02\x01\x01", "latin1"), Buffer.alloc(40, 0xff)]));
    expect(readElfDynamic(join(dir, "truncated"))).toBeUndefined();
  });
});

describe("pkgdata", () => {
  it("round-trips values with newlines and backslashes, per package", () => {
    const text = packageDataTextForTest({
      pn: "x",
      pkg: "x-dev",
      recipe: { PN: "x", PV: "1.0" },
      vars: { RDEPENDS: "x (= 1.0-r0)", pkg_postinst: 'echo "a\\nb"\nline two' },
      files: { "/usr/include/x.h": 3 },
      size: 3,
    });
    const back = parsePackageData(text, "x-dev", "runtime/x-dev");
    expect(back.vars.pkg_postinst).toBe('echo "a\\nb"\nline two');
    expect(back.vars.RDEPENDS).toBe("x (= 1.0-r0)");
    expect(back.files).toEqual({ "/usr/include/x.h": 3 });
    expect(back.recipe.PV).toBe("1.0");
    expect(parsePackageData(text, "other", "runtime/other").vars).toEqual({});
    expect(() => parsePackageData("FILES_INFO:x: {broken", "x", "runtime/x")).toThrow(/runtime\/x: FILES_INFO is not valid JSON/);
  });
});
