/** Small pieces of the task engine: dependency lists, loops, priorities, locks, shell scripts. */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { beforeAll } from "vitest";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { DataStore, initShellParser, explodeDeps, remainingPath, shellScript, reachedFunctions, withLocks, type TaskNode } from "../src/index.js";
import { topoOrder } from "../src/tasks/cycles.js";
import { tempTree } from "./helpers.js";

describe("explodeDeps (bb.utils.explode_deps)", () => {
  it.each([
    ["a b c", ["a", "b", "c"]],
    ["a (>= 1.0) b", ["a", "b"]],
    ["a (>=1.0) b (<< 2:3.4-r1)  c", ["a", "b", "c"]],
    ["  ", []],
    ["virtual/libc  zlib-native", ["virtual/libc", "zlib-native"]],
  ])("%j -> %j", (input, names) => {
    expect(explodeDeps(input)).toEqual(names);
  });
});

describe("topoOrder", () => {
  const graph = (edges: number[][]) => ({ size: edges.length, deps: (i: number) => edges[i] });
  it("puts dependencies first", () => {
    const r = topoOrder(graph([[1, 2], [2], []]));
    expect(r).toEqual({ order: [2, 1, 0] });
  });
  it("reports a loop in dependency order, closed", () => {
    // 0 -> 1 -> 2 -> 3 -> 1
    const r = topoOrder(graph([[1], [2], [3], [1]]));
    expect(r).toEqual({ cycle: [1, 2, 3, 1] });
  });
  it("finds a self-dependency", () => {
    expect(topoOrder(graph([[0]]))).toEqual({ cycle: [0, 0] });
  });
});

describe("remainingPath", () => {
  it("weights a task by the longest chain that waits for it", () => {
    // a <- b <- c, a <- d
    const nodes = [{ deps: [] }, { deps: [0] }, { deps: [1] }, { deps: [0] }] as unknown as TaskNode[];
    expect(remainingPath(nodes)).toEqual([3, 2, 1, 1]);
  });
});

describe("withLocks", () => {
  it("serialises holders of the same lock, in and across calls", async () => {
    const tree = tempTree();
    const lock = tree.path("locks/a.lock");
    let inside = 0;
    let most = 0;
    const work = () =>
      withLocks([lock], async () => {
        inside++;
        most = Math.max(most, inside);
        expect(existsSync(lock)).toBe(true);
        await sleep(10);
        inside--;
      });
    await Promise.all([work(), work(), work()]);
    expect(most).toBe(1);
    expect(existsSync(lock)).toBe(false);
    tree.remove();
  });

  it.each([false, true])("excludes other processes: two processes taking the same lock 40 times each never overlap (a dead owner's lock there first: %s)", async (stale) => {
    const tree = tempTree(stale ? { "locks/shared.lock": "999999999" } : {});
    const lock = tree.path("locks/shared.lock");
    const log = tree.path("log");
    const dist = new URL("../dist/index.js", import.meta.url).href;
    // each holder appends "<pid> in" then "<pid> out"; an overlap puts another line between
    const script = `
      const { withLocks } = await import(${JSON.stringify(dist)});
      const { appendFileSync } = await import("node:fs");
      for (let i = 0; i < 40; i++) await withLocks([${JSON.stringify(lock)}], async () => {
        appendFileSync(${JSON.stringify(log)}, process.pid + " in\\n");
        await new Promise((r) => setTimeout(r, 1));
        appendFileSync(${JSON.stringify(log)}, process.pid + " out\\n");
      });`;
    const run = () =>
      new Promise<number>((resolve) => {
        const c = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: "inherit" });
        c.once("close", (code) => resolve(code ?? -1));
      });
    expect(await Promise.all([run(), run()])).toEqual([0, 0]);
    const lines = readFileSync(log, "utf8").trim().split("\n");
    expect(lines).toHaveLength(160);
    for (let i = 0; i < lines.length; i += 2) {
      const [pid, what] = lines[i].split(" ");
      expect([what, lines[i + 1]]).toEqual(["in", `${pid} out`]);
    }
    tree.remove();
  }, 30_000);

  it("takes over a lock whose owner is gone", async () => {
    const tree = tempTree({ "stale.lock": "999999999" });
    let ran = false;
    await withLocks([tree.path("stale.lock")], async () => {
      ran = true;
    });
    expect(ran).toBe(true);
    tree.remove();
  });
});

describe("shell run scripts", () => {
  beforeAll(() => initShellParser());
  function store(): DataStore {
    const d = new DataStore();
    d.setVar("GREETING", 'say "hi" $HOME `x`');
    d.setVarFlag("GREETING", "export", 1);
    d.setVar("HIDDEN", "not exported");
    d.setVar("do_x", "helper_a\necho ${GREETING}");
    d.setVarFlag("do_x", "func", 1);
    d.setVar("helper_a", "helper_b");
    d.setVarFlag("helper_a", "func", 1);
    d.setVar("helper_b", "true");
    d.setVarFlag("helper_b", "func", 1);
    d.setVar("unrelated", "false");
    d.setVarFlag("unrelated", "func", 1);
    d.setVar("js_fn", "return 1");
    d.setVarFlag("js_fn", "func", 1);
    d.setVarFlag("js_fn", "js", 1);
    return d;
  }

  it("reaches called shell functions transitively, never JS ones or unrelated ones", () => {
    expect(reachedFunctions(store(), "do_x")).toEqual(["helper_a", "helper_b"]);
  });

  it("exports only exported variables, quoted so the shell sees the value as written", () => {
    const script = shellScript(store(), "do_x", { cwd: "/tmp/w", umask: "022" });
    expect(script).toContain('export GREETING="say \\"hi\\" \\$HOME \\`x\\`"');
    expect(script).not.toContain("HIDDEN");
    expect(script).not.toContain("unrelated()");
    expect(script).toMatch(/umask 022\ncd "\/tmp\/w"\ndo_x\n$/);
  });
});
