import { mkdtempSync, readFileSync, rmSync, mkdirSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { clearFileCache } from "@kiln/core";
import { main } from "../src/main.js";

const BIN = join(dirname(fileURLToPath(import.meta.url)), "..", "bin", "kiln.js");
const ENV = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/root" };
let root: string;

function write(rel: string, text: string): string {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text);
  return p;
}

async function kiln(args: string[], cwd = join(root, "build")) {
  clearFileCache();
  let out = "";
  let err = "";
  const code = await main(args, { cwd, env: ENV, io: { out: (t) => (out += t), err: (t) => (err += t) } });
  return { code, out, err };
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "kiln-cli-"));
  write("build/conf/bblayers.conf", `BBPATH = "\${TOPDIR}"\nBBLAYERS = "\${TOPDIR}/../meta-x"\n`);
  write("build/conf/local.conf", `MACHINE = "qemuarm"\nEXTRA = "local"\n`);
  write(
    "meta-x/conf/layer.conf",
    `BBPATH .= ":\${LAYERDIR}"\nBBFILES += "\${LAYERDIR}/recipes/*.bb"\nBBFILE_COLLECTIONS += "x"\nBBFILE_PATTERN_x = "^\${LAYERDIR}/"\nBBFILE_PRIORITY_x = "6"\n`,
  );
  write("meta-x/recipes/hello_1.0.bb", `SUMMARY = "hi"\nGREETING = "hello"\nGREETING:append = " world"\nexport GREETING\ndo_say() {\n\techo \${GREETING}\n}\naddtask say\n`);
  write("meta-x/recipes/lib_2.0.bb", `FLAGGED[doc] = "a flag"\n`);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("kiln getvar", () => {
  it("prints VAR=\"value\" for the configuration", async () => {
    const r = await kiln(["getvar", "MACHINE"]);
    expect(r).toMatchObject({ code: 0, out: 'MACHINE="qemuarm"\n' });
  });

  it("--value prints only the value; an unset variable prints nothing and exits 1", async () => {
    expect(await kiln(["getvar", "--value", "EXTRA"])).toMatchObject({ code: 0, out: "local\n" });
    expect(await kiln(["getvar", "--value", "NOT_SET_ANYWHERE"])).toMatchObject({ code: 1, out: "" });
    const plain = await kiln(["getvar", "NOT_SET_ANYWHERE"]);
    expect(plain.code).toBe(1);
    expect(plain.err).toMatch(/not defined/);
  });

  it("-r RECIPE reads the recipe's value (with appends applied), --flag reads a flag", async () => {
    expect((await kiln(["getvar", "GREETING", "-r", "hello", "--value"])).out).toBe("hello world\n");
    expect((await kiln(["getvar", "FLAGGED", "-r", "lib", "--flag", "doc", "--value"])).out).toBe("a flag\n");
    expect((await kiln(["getvar", "PV", "-r", "lib", "--value"])).out).toBe("2.0\n");
  });

  it("-b FILE parses that recipe file directly", async () => {
    const r = await kiln(["getvar", "PN", "-b", join(root, "meta-x/recipes/lib_2.0.bb"), "--value"]);
    expect(r).toMatchObject({ code: 0, out: "lib\n" });
  });

  it("--history shows each operation with file and line", async () => {
    const r = await kiln(["getvar", "GREETING", "-r", "hello", "--history"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`# $GREETING [3 operations]`);
    expect(r.out).toContain(`#   set ${join(root, "meta-x/recipes/hello_1.0.bb")}:2`);
    expect(r.out).toContain(`#   :append ${join(root, "meta-x/recipes/hello_1.0.bb")}:3`);
    expect(r.out).toContain(`#   exported ${join(root, "meta-x/recipes/hello_1.0.bb")}:4`);
    expect(r.out).toMatch(/GREETING="hello world"\n$/);
  });

  it("an unknown recipe exits 1 with a clear message", async () => {
    const r = await kiln(["getvar", "PN", "-r", "nosuch"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/Nothing PROVIDES 'nosuch'/);
  });
});

describe("kiln -e", () => {
  it("prints history comments, VAR=\"value\", export, and functions", async () => {
    const r = await kiln(["-e", "-r", "hello"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('export GREETING="hello world"\n');
    expect(r.out).toContain(`do_say() {\n\techo hello world\n}\n`);
    // SUMMARY: the base layer's default, then the recipe's assignment
    expect(r.out).toMatch(/# \$SUMMARY \[2 operations\]\n#   set\? .*bitbake\.conf:\d+\n.*\n#   set .*hello_1\.0\.bb:1\n#     "hi"\n# pre-expansion value:\n#   "hi"\nSUMMARY="hi"/);
    // the configuration's variables are there too, and internal ones are not
    expect(r.out).toContain('MACHINE="qemuarm"');
    expect(r.out).not.toContain("__BBTASKS");
  });

  it("without a recipe prints the configuration", async () => {
    const r = await kiln(["-e"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`TOPDIR="${join(root, "build")}"`);
  });
});

describe("kiln -p", () => {
  it("reports counts, from cache the second time", async () => {
    expect((await kiln(["-p"])).out).toMatch(/2 recipes, 2 parsed, 0 from cache, 0 skipped, 0 masked, 0 errors/);
    expect((await kiln(["-p"])).out).toMatch(/2 recipes, 0 parsed, 2 from cache/);
  });

  it("a recipe with a syntax error: file:line:column, exit 2", async () => {
    write("meta-x/recipes/broken_1.0.bb", `A = "ok"\n\nB ?= unquoted\n`);
    const r = await kiln(["-p"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${join(root, "meta-x/recipes/broken_1.0.bb")}:3:6:`);
    expect(r.out).toMatch(/1 errors/);
    expect((await kiln(["-p", "-k"])).code).toBe(0);
  });
});

describe("kiln init and layers", () => {
  it("init makes a build directory whose configuration loads", async () => {
    const r = await kiln(["init", "newbuild"], root);
    expect(r.code).toBe(0);
    expect(existsSync(join(root, "newbuild/conf/bblayers.conf"))).toBe(true);
    expect(readFileSync(join(root, "newbuild/conf/local.conf"), "utf8")).toMatch(/MACHINE/);
    const show = await kiln(["layers", "show"], join(root, "newbuild"));
    expect(show.code).toBe(0);
    expect(show.out).toMatch(/core\s+\S+meta\s+5/);
  });

  it("layers add puts a layer in BBLAYERS, remove takes it out", async () => {
    write(
      "meta-y/conf/layer.conf",
      `BBPATH .= ":\${LAYERDIR}"\nBBFILES += "\${LAYERDIR}/recipes/*.bb"\nBBFILE_COLLECTIONS += "y"\nBBFILE_PATTERN_y = "^\${LAYERDIR}/"\nBBFILE_PRIORITY_y = "9"\n`,
    );
    write("meta-y/recipes/extra_1.0.bb", "");
    expect((await kiln(["layers", "add", "../meta-y"])).code).toBe(0);
    expect((await kiln(["layers", "show"])).out).toMatch(/y\s+\S+meta-y\s+9/);
    expect((await kiln(["getvar", "PN", "-r", "extra", "--value"])).out).toBe("extra\n");
    expect((await kiln(["layers", "remove", "../meta-y"])).code).toBe(0);
    expect((await kiln(["layers", "show"])).out).not.toMatch(/meta-y/);
  });

  it("adding a directory that is not a layer is refused and bblayers.conf is unchanged", async () => {
    const before = readFileSync(join(root, "build/conf/bblayers.conf"), "utf8");
    mkdirSync(join(root, "notalayer"));
    const r = await kiln(["layers", "add", "../notalayer"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/not a layer/);
    expect(readFileSync(join(root, "build/conf/bblayers.conf"), "utf8")).toBe(before);
  });
});

describe("the kiln executable", () => {
  it("a metadata error prints one message without a stack trace, exit 2; -D adds the stack", async () => {
    write("meta-x/recipes/hello_1.0.bb", `do_x() {\n\techo never closed\n`);
    const r = await execa("node", [BIN, "getvar", "PN", "-r", "hello"], { cwd: join(root, "build"), env: ENV, reject: false, extendEnv: false });
    // the broken recipe fails to parse, so nothing provides hello
    expect(r.exitCode).toBe(1);
    const b = await execa("node", [BIN, "getvar", "PN", "-b", "../meta-x/recipes/hello_1.0.bb"], { cwd: join(root, "build"), env: ENV, reject: false, extendEnv: false });
    expect(b.exitCode).toBe(2);
    expect(b.stderr).toMatch(/hello_1\.0\.bb:1:1: Shell function do_x is never closed/);
    expect(b.stderr).not.toMatch(/\n\s+at /);
    const debug = await execa("node", [BIN, "getvar", "-D", "PN", "-b", "../meta-x/recipes/hello_1.0.bb"], { cwd: join(root, "build"), env: ENV, reject: false, extendEnv: false });
    expect(debug.stderr).toMatch(/\n\s+at /);
  });

  it("an unknown option is a usage error, exit 2", async () => {
    const r = await execa("node", [BIN, "--no-such-option"], { cwd: join(root, "build"), env: ENV, reject: false, extendEnv: false });
    expect(r.exitCode).toBe(2);
  });
});

describe("parsing on worker threads through the CLI", () => {
  it("kiln -p parses a layer big enough for worker threads (options handed to workers must be cloneable)", async () => {
    for (let i = 0; i < 260; i++) write(`meta-x/recipes/many${i}_1.0.bb`, `SUMMARY = "recipe ${i}"\n`);
    const r = await kiln(["-p"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/262 recipes, 262 parsed, 0 from cache/);
  });
});
