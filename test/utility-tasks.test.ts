/**
 * The base class's utility tasks and shell logging, as OpenEmbedded users run them:
 * `kiln -c listtasks foo` prints every task with its [doc] (no NOTE: prefix), `kiln -c
 * clean foo` removes the work directory and the stamps (so the next build runs again)
 * and runs CLEANFUNCS; bbnote/bbwarn/bbfatal write to the task log, bbfatal fails it.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTree, type BuildTree } from "./helpers/build-tree.js";

describe("utility tasks", () => {
  let tree: BuildTree;
  beforeAll(() => {
    tree = buildTree();
    tree.recipe(
      "util_1.0.bb",
      [
        `do_compile () {`,
        `\tbbnote "compiling now"`,
        `\tbbwarn "careful"`,
        `\techo "\${PN}:compile" >> \${RECORD}`,
        `}`,
        `do_mine () {`,
        `\t:`,
        `}`,
        `do_mine[doc] = "A task of this recipe"`,
        `addtask mine after do_compile`,
        `CLEANFUNCS += "util_cleanfunc"`,
        `util_cleanfunc () {`,
        `\techo "\${PN}:cleanfunc" >> \${RECORD}`,
        `}`,
        `do_fails () {`,
        `\tbbfatal "this cannot work"`,
        `\techo "after fatal" >> \${RECORD}`,
        `}`,
        `addtask fails`,
        ``,
      ].join("\n"),
    );
  });
  afterAll(() => tree.remove());

  it("-c listtasks prints each task with its [doc], sorted, without a NOTE: prefix", async () => {
    const r = await tree.kiln(["-c", "listtasks", "util"]);
    expect(r.code, r.all).toBe(0);
    const lines = r.out.split("\n").filter((l) => /^do_\w+\s/.test(l));
    const names = lines.map((l) => l.split(/\s+/)[0]);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(["do_build", "do_clean", "do_compile", "do_fetch", "do_listtasks", "do_mine", "do_populate_sysroot_setscene"]));
    expect(lines.find((l) => l.startsWith("do_mine "))).toMatch(/^do_mine\s+A task of this recipe$/);
    expect(lines.find((l) => l.startsWith("do_populate_sysroot_setscene"))).toMatch(/Copies a subset of files .* \(setscene version\)$/);
    expect(r.out).not.toMatch(/NOTE: .*do_mine/);
  });

  it("bbnote and bbwarn write to the task log and reach the console; bbfatal fails the task with its message as an error", async () => {
    const built = await tree.kiln(["util"]);
    expect(built.code, built.all).toBe(0);
    expect(built.out).toContain("WARNING: util:do_compile: careful\n");
    expect(built.out).toContain("NOTE: util:do_compile: compiling now\n");
    expect(built.all).toMatch(/1 warning/i);
    const T = await tree.getvar("T", "util");
    const log = readFileSync(join(T, "log.do_compile"), "utf8");
    expect(log).toContain("NOTE: compiling now\n");
    expect(log).toContain("WARNING: careful\n");
    const failed = await tree.kiln(["-c", "fails", "util"]);
    expect(failed.code).not.toBe(0);
    expect(failed.err).toContain("ERROR: util:do_fails: this cannot work\n");
    expect(tree.lines("record")).not.toContain("after fatal");
  });

  it("-c clean removes WORKDIR and the stamps (the next build runs again) and runs CLEANFUNCS; its log is kept elsewhere", async () => {
    if (!tree.lines("record").includes("util:compile")) expect((await tree.kiln(["util"])).code).toBe(0);
    const WORKDIR = await tree.getvar("WORKDIR", "util");
    const STAMP = await tree.getvar("STAMP", "util");
    const LOG_DIR = await tree.getvar("LOG_DIR", "util");
    expect(existsSync(WORKDIR)).toBe(true);
    expect(readdirSync(dirname(STAMP)).some((f) => f.startsWith(`${basename(STAMP)}.do_compile`))).toBe(true);
    const before = tree.lines("record").filter((l) => l === "util:compile").length;
    const again = await tree.kiln(["util"]);
    expect(again.code).toBe(0);
    expect(tree.lines("record").filter((l) => l === "util:compile").length).toBe(before); // current: nothing ran

    const clean = await tree.kiln(["-c", "clean", "util"]);
    expect(clean.code, clean.all).toBe(0);
    expect(existsSync(WORKDIR)).toBe(false);
    const stamps = existsSync(dirname(STAMP)) ? readdirSync(dirname(STAMP)).filter((f) => f.startsWith(`${basename(STAMP)}.`)) : [];
    expect(stamps).toEqual([]);
    expect(tree.lines("record")).toContain("util:cleanfunc");
    expect(existsSync(join(LOG_DIR, "cleanlogs", "util"))).toBe(true);

    const rebuilt = await tree.kiln(["util"]);
    expect(rebuilt.code, rebuilt.all).toBe(0);
    expect(tree.lines("record").filter((l) => l === "util:compile").length).toBe(before + 1);
  });
});
