/**
 * Task signatures end to end (issue #4): "if the checksum changes, the inputs changed
 * and the task must rerun" — and nothing else reruns. Each case builds the layer of
 * helpers/sig-tree.ts (u unrelated; b; a DEPENDS b with a local file://x.patch, shell
 * helpers and a JS task; c DEPENDS a), changes ONE thing, builds again and compares
 * the exact set of tasks that ran (recorded by the tasks themselves), then asks
 * `kiln diffsigs -t RECIPE TASK` why. KILN_KEEP_TMP=1 keeps the trees.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clearFileCache, initShellParser, Kiln, shellDeps, type TaskGraph } from "@kiln/core";
import { ENV, hasStamp } from "./helpers/build-tree.js";
import { sigTree, TARGETS, type SigTree } from "./helpers/sig-tree.js";

const A = "meta-t/recipes/a_1.0.bb";
const B = "meta-t/recipes/b_1.0.bb";
const PATCH = "meta-t/recipes/files/x.patch";

/** What reruns after a change to a:do_compile's inputs: it, a's later tasks, and c from configure on. */
const FROM_A_COMPILE = ["a:compile", "a:report", "a:install", "c:configure", "c:compile", "c:install"].sort();

/** Apply an edit for the duration of `fn`, then undo it (the next settle() rebuilds). */
async function withEdit<T>(tree: SigTree, rel: string, from: string, to: string, fn: () => Promise<T>): Promise<T> {
  tree.edit(rel, from, to);
  try {
    return await fn();
  } finally {
    tree.edit(rel, to, from);
  }
}

async function diffsigs(tree: SigTree, recipe: string, task: string): Promise<string> {
  const r = await tree.ok(["diffsigs", "-t", recipe, task]);
  return r.out;
}

function kilnAt(tree: SigTree): Kiln {
  clearFileCache();
  return new Kiln({ cwd: tree.build, env: { ...ENV, PWD: tree.build } });
}

function byId(graph: TaskGraph, id: string) {
  const node = graph.nodes.find((n) => n.id === id);
  if (!node) throw new Error(`${id} is not in the graph (${graph.nodes.map((n) => n.id).join(" ")})`);
  return node;
}

describe("what reruns after one change (basichash stamps)", () => {
  let tree: SigTree;
  /** Bring every task of the main graph up to date (after an earlier case's undo). */
  const settle = () => tree.run();

  beforeAll(async () => {
    tree = sigTree();
    // the first build runs every task with a body, once
    const first = await tree.run();
    expect(first).toEqual(
      ["a", "b", "c", "u"].flatMap((pn) => ["fetch", "unpack", "patch", "configure", "compile", "install"].map((t) => `${pn}:${t}`)).concat("a:report").sort(),
    );
    expect(await tree.run()).toEqual([]);
  });
  afterAll(() => tree.remove());

  it("1. a variable a:do_compile uses: exactly a:do_compile and what follows it (also in c, which DEPENDS on a) rerun; diffsigs names the variable", async () => {
    await settle();
    const before = { b: await tree.stampHashes("b"), u: await tree.stampHashes("u") };
    await withEdit(tree, A, `A_CFLAGS = "-O2"`, `A_CFLAGS = "-O3"`, async () => {
      expect(await tree.run()).toEqual(FROM_A_COMPILE);
      // upstream and unrelated recipes keep their hashes
      expect(await tree.stampHashes("b")).toEqual(before.b);
      expect(await tree.stampHashes("u")).toEqual(before.u);
      expect(await diffsigs(tree, "a", "compile")).toContain(`Variable A_CFLAGS value changed from '-O2' to '-O3'`);
      // and a second build runs nothing
      expect(await tree.run()).toEqual([]);
    });
  });

  it("2a. a variable in do_compile[vardepsexclude] (used in the body): nothing reruns", async () => {
    await settle();
    const before = await tree.stampHashes("a");
    await withEdit(tree, A, `A_EXCL = "excluded-1"`, `A_EXCL = "excluded-2"`, async () => {
      expect(await tree.run()).toEqual([]);
      expect(await tree.stampHashes("a")).toEqual(before);
    });
  });

  it("2b. a variable added to BB_BASEHASH_IGNORE_VARS (MYVAR, used in the body): nothing reruns", async () => {
    await settle();
    const before = await tree.stampHashes("a");
    await withEdit(tree, A, `MYVAR = "ignored-1"`, `MYVAR = "ignored-2"`, async () => {
      expect(await tree.run()).toEqual([]);
      expect(await tree.stampHashes("a")).toEqual(before);
    });
  });

  it("3. a shell function do_compile calls through if / a pipeline / $(...) / a subshell: rerun, diffsigs shows the body diff; an uncalled function: nothing", async () => {
    await settle();
    const edits: [string, string, string][] = [
      ["check_tool", `check_tool() {\n\ttrue\n}`, `check_tool() {\n\ttest -n "x"\n}`],
      ["gen_list", `gen_list() {\n\techo one\n}`, `gen_list() {\n\techo two\n}`],
      ["get_ver", `get_ver() {\n\techo 1.0\n}`, `get_ver() {\n\techo 2.0\n}`],
      ["sub_helper", `sub_helper() {\n\t:\n}`, `sub_helper() {\n\ttrue\n}`],
    ];
    const done: [string, string][] = [];
    try {
      for (const [name, from, to] of edits) {
        tree.edit(A, from, to);
        done.push([from, to]);
        expect(await tree.run(), `after changing ${name}`).toEqual(FROM_A_COMPILE);
        const out = await diffsigs(tree, "a", "compile");
        expect(out).toContain(`Function ${name} body changed`);
        // a unified diff of the body: a hunk header, the old line and the new one
        const [, oldLine] = from.split("\n");
        const [, newLine] = to.split("\n");
        expect(out).toMatch(/^@@ -\d+(,\d+)? \+\d+(,\d+)? @@/m);
        expect(out.split("\n")).toContain(`-${oldLine}`);
        expect(out.split("\n")).toContain(`+${newLine}`);
        // only this function: the earlier ones were in the previous signature already
        for (const [other] of edits) if (other !== name) expect(out).not.toContain(`Function ${other} body changed`);
      }
      await settle();
      tree.edit(A, `uncalled_fn() {\n\techo never\n}`, `uncalled_fn() {\n\techo still never\n}`);
      done.push([`uncalled_fn() {\n\techo never\n}`, `uncalled_fn() {\n\techo still never\n}`]);
      expect(await tree.run()).toEqual([]);
    } finally {
      for (const [from, to] of done.reverse()) tree.edit(A, to, from);
    }
  });

  it("4. a variable a JS task reads with d.getVar('X'): the JS task and what follows rerun", async () => {
    await settle();
    await withEdit(tree, A, `JS_VAR = "js-1"`, `JS_VAR = "js-2"`, async () => {
      expect(await tree.run()).toEqual(["a:report", "a:install", "c:configure", "c:compile", "c:install"].sort());
      expect(await diffsigs(tree, "a", "report")).toContain(`Variable JS_VAR value changed from 'js-1' to 'js-2'`);
    });
  });

  it("5. editing the local file:// source: a reruns from do_fetch on, and c after it; diffsigs names the file", async () => {
    await settle();
    const text = readFileSync(join(tree.root, PATCH), "utf8");
    writeFileSync(join(tree.root, PATCH), `${text}+another line\n`);
    try {
      expect(await tree.run()).toEqual(
        ["a:fetch", "a:unpack", "a:patch", "a:configure", "a:compile", "a:report", "a:install", "c:configure", "c:compile", "c:install"].sort(),
      );
      expect(await diffsigs(tree, "a", "fetch")).toContain("File file://x.patch checksum changed");
    } finally {
      writeFileSync(join(tree.root, PATCH), text);
    }
  });

  it("6. `X:append` on a variable a task uses: rerun; diffsigs shows the appended value", async () => {
    await settle();
    await withEdit(tree, A, `A_CFLAGS = "-O2"\n`, `A_CFLAGS = "-O2"\nA_CFLAGS:append = " more"\n`, async () => {
      expect(await tree.run()).toEqual(FROM_A_COMPILE);
      // BitBake hashes d.getVar(key, False): the unexpanded value with the append applied
      expect(await diffsigs(tree, "a", "compile")).toContain(`Variable A_CFLAGS value changed from '-O2' to '-O2 more'`);
    });
  });

  it("7a. [vardepvalue] pins the hashed value: changing the variable reruns nothing", async () => {
    await settle();
    const before = await tree.stampHashes("a");
    await withEdit(tree, A, `PINNED = "pin-1"`, `PINNED = "pin-2"`, async () => {
      expect(await tree.run()).toEqual([]);
      expect(await tree.stampHashes("a")).toEqual(before);
    });
  });

  it("7b. do_compile[vardeps] += \"Y_EXTRA\" (not referenced in the body): changing Y_EXTRA reruns do_compile", async () => {
    await settle();
    await withEdit(tree, A, `Y_EXTRA = "y-1"`, `Y_EXTRA = "y-2"`, async () => {
      expect(await tree.run()).toEqual(FROM_A_COMPILE);
      expect(await diffsigs(tree, "a", "compile")).toContain(`Variable Y_EXTRA value changed from 'y-1' to 'y-2'`);
    });
  });

  it("8. the whole tree copied to another path: nothing reruns there and every task hash is identical", async () => {
    await settle();
    const pns = ["a", "b", "c", "u"];
    const here: Record<string, Record<string, string>> = {};
    for (const pn of pns) here[pn] = await tree.stampHashes(pn);
    expect(Object.keys(here.a).sort()).toEqual(["do_compile", "do_configure", "do_fetch", "do_install", "do_patch", "do_populate_sysroot", "do_report", "do_unpack"]);
    const moved = tree.copyTo(`${tree.root}-moved`);
    try {
      expect(await moved.getvar("TOPDIR", "a")).toBe(moved.build);
      expect(await moved.run()).toEqual([]);
      for (const pn of pns) expect(await moved.stampHashes(pn), pn).toEqual(here[pn]);
      // the hashes computed there (not only the stamps left from here) are the same
      const graphs = await Promise.all([tree, moved].map((t) => kilnAt(t).taskGraph({ targets: TARGETS })));
      const hashes = graphs.map((g) => Object.fromEntries(g.nodes.map((n) => [n.id, n.taskhash])));
      expect(Object.keys(hashes[0]).length).toBeGreaterThan(20);
      expect(hashes[1]).toEqual(hashes[0]);
    } finally {
      moved.remove();
    }
  });

  it("9. -f -c compile: that build runs a:do_compile; its taint persists, so the next build reruns what follows it (not it), the one after nothing; diffsigs names the taint", async () => {
    await settle();
    const STAMP = await tree.stamp("a");
    try {
      expect(await tree.run(["-f", "-c", "compile", "a"])).toEqual(["a:compile"]);
      expect(existsSync(`${STAMP}.do_compile.taint`)).toBe(true);
      // a:do_compile keeps its tainted hash (the taint is read back), its dependents get new ones
      expect(await tree.run()).toEqual(["a:report", "a:install", "c:configure", "c:compile", "c:install"].sort());
      expect(await tree.run()).toEqual([]);
      expect(await diffsigs(tree, "a", "compile")).toMatch(/Taint .*changed from \(unset\) to '/);
    } finally {
      rmSync(`${STAMP}.do_compile.taint`, { force: true });
    }
  });

  it("9b. -f -c compile a c: what follows a forced task reruns in that build (a:report, a:install, c:configure are not targets); later builds run only what was outside that graph", async () => {
    await settle();
    const STAMPS = [await tree.stamp("a"), await tree.stamp("c")];
    try {
      expect(await tree.run(["-f", "-c", "compile", "a", "c"])).toEqual(["a:compile", "a:report", "a:install", "c:configure", "c:compile"].sort());
      // c:do_install was not in that graph: it follows c:do_compile's new (tainted) hash now
      expect(await tree.run()).toEqual(["c:install"]);
      expect(await tree.run()).toEqual([]);
    } finally {
      for (const s of STAMPS) rmSync(`${s}.do_compile.taint`, { force: true });
    }
  });

  it("10. a nostamp task: it and every task after it rerun every time, nothing before it", async () => {
    rmSync(tree.path("record"), { force: true });
    expect(await tree.run(["n:do_four"])).toEqual(["n:four", "n:one", "n:three", "n:two"]);
    for (let i = 0; i < 2; i++) expect(await tree.run(["n:do_four"])).toEqual(["n:four", "n:three", "n:two"]);
    const STAMP = await tree.stamp("n");
    expect(hasStamp(`${STAMP}.do_two`)).toBe(false);
    expect(hasStamp(`${STAMP}.do_three`)).toBe(true);
    expect(await diffsigs(tree, "n", "three")).toContain("Dependency on task n:do_two changed hash");
  });

  it("12. core API: the taskDependencyFilter hook drops a dependency's hash; basehashInputs adds inputs", async () => {
    await settle();
    const plain = await kilnAt(tree).taskGraph({ targets: ["a"] });
    const filtered = kilnAt(tree);
    filtered.hooks.taskDependencyFilter.tap("t", (task, dep) => (task.pn === "a" && dep.pn === "b" ? false : undefined));
    const g1 = await filtered.taskGraph({ targets: ["a"] });
    const conf0 = byId(plain, "a:do_configure");
    const conf1 = byId(g1, "a:do_configure");
    expect(conf1.basehash).toBe(conf0.basehash);
    expect(conf1.taskhash).not.toBe(conf0.taskhash);
    expect(conf1.hashInputs?.droppedDeps).toEqual(["b:do_populate_sysroot"]);
    expect(conf0.hashInputs?.droppedDeps).toEqual([]);
    // a's own chain is untouched by the filter
    expect(byId(g1, "a:do_fetch").taskhash).toBe(byId(plain, "a:do_fetch").taskhash);

    // with the filter, a change in b does not ripple into a; without it, it does
    await withEdit(tree, B, `B_OPT = "b-one"`, `B_OPT = "b-two"`, async () => {
      const plain2 = await kilnAt(tree).taskGraph({ targets: ["a"] });
      const f2 = kilnAt(tree);
      f2.hooks.taskDependencyFilter.tap("t", (task, dep) => (task.pn === "a" && dep.pn === "b" ? false : undefined));
      const g2 = await f2.taskGraph({ targets: ["a"] });
      expect(byId(plain2, "b:do_install").taskhash).not.toBe(byId(plain, "b:do_install").taskhash);
      expect(byId(plain2, "a:do_configure").taskhash).not.toBe(conf0.taskhash);
      expect(byId(g2, "a:do_configure").taskhash).toBe(conf1.taskhash);
    });

    const extra = kilnAt(tree);
    extra.hooks.basehashInputs.tap("t", (inputs, task) => (task.id === "a:do_compile" ? [...inputs, "t-plugin:1.0"] : inputs));
    const g3 = await extra.taskGraph({ targets: ["a"] });
    expect(byId(g3, "a:do_compile").basehash).not.toBe(byId(plain, "a:do_compile").basehash);
    expect(byId(g3, "a:do_compile").taskhash).not.toBe(byId(plain, "a:do_compile").taskhash);
    expect(byId(g3, "a:do_compile").hashInputs?.extraBasehash).toEqual(["t-plugin:1.0"]);
    // downstream follows, upstream does not
    expect(byId(g3, "a:do_install").taskhash).not.toBe(byId(plain, "a:do_install").taskhash);
    expect(byId(g3, "a:do_configure").taskhash).toBe(byId(plain, "a:do_configure").taskhash);
  });

  it("13a. dumpsig prints the task, basehash, taskhash and the variable values", async () => {
    await settle();
    const hash = (await tree.stampHashes("a")).do_compile;
    const file = `${await tree.stamp("a")}.do_compile.sigdata.${hash}`;
    expect(existsSync(file)).toBe(true);
    const out = (await tree.ok(["dumpsig", file])).out;
    expect(out).toMatch(/^Task: a:do_compile$/m);
    expect(out).toMatch(/^basehash: [0-9a-f]{64}$/m);
    expect(out).toContain(`taskhash: ${hash}`);
    expect(out).toContain(`Variable A_CFLAGS value is '-O2'`);
    expect(out).toContain(`Variable PINNED value is 'pinned'`);
    // excluded and ignored variables are not inputs
    expect(out).not.toContain("Variable A_EXCL value");
    expect(out).not.toContain("Variable MYVAR value");
    expect(out).not.toContain("Variable uncalled_fn value");
  });

  it("13b. -S printdiff after a change names the changed variable (for the first task only) and runs nothing; diffsigs A B compares two explicit files", async () => {
    await settle();
    const before = await tree.stampHashes("a");
    const STAMP = await tree.stamp("a");
    await withEdit(tree, A, `A_CFLAGS = "-O2"`, `A_CFLAGS = "-O3"`, async () => {
      rmSync(tree.path("record"), { force: true });
      const r = await tree.ok(["-S", "printdiff", ...TARGETS]);
      expect(r.out).toContain("a:do_compile");
      expect(r.out).toContain(`Variable A_CFLAGS value changed from '-O2' to '-O3'`);
      // tasks that only rerun because a:do_compile does are not explained on their own
      expect(r.out).not.toContain("a:do_install");
      expect(r.out).not.toMatch(/c:do_/);
      expect(tree.lines("record")).toEqual([]);
      expect(await tree.stampHashes("a")).toEqual(before);

      expect(await tree.run()).toEqual(FROM_A_COMPILE);
      const after = await tree.stampHashes("a");
      const oldFile = `${STAMP}.do_compile.sigdata.${before.do_compile}`;
      const newFile = `${STAMP}.do_compile.sigdata.${after.do_compile}`;
      expect((await tree.ok(["diffsigs", oldFile, newFile])).out).toContain(`Variable A_CFLAGS value changed from '-O2' to '-O3'`);
      expect((await tree.ok(["diffsigs", newFile, oldFile])).out).toContain(`Variable A_CFLAGS value changed from '-O3' to '-O2'`);
    });
  });

  it("13c. diffsigs recurses: after a change to b:do_install, `diffsigs -t a configure` names the dependency and, indented below, the variable", async () => {
    await settle();
    await withEdit(tree, B, `B_OPT = "b-one"`, `B_OPT = "b-two"`, async () => {
      expect(await tree.run()).toEqual(
        ["b:install", "a:configure", "a:compile", "a:report", "a:install", "c:configure", "c:compile", "c:install"].sort(),
      );
      const lines = (await diffsigs(tree, "a", "configure")).split("\n");
      const dep = lines.findIndex((l) => /^Dependency on task b:do_\w+ changed hash/.test(l));
      expect(dep, lines.join("\n")).toBeGreaterThanOrEqual(0);
      const cause = lines.findIndex((l) => l.includes(`Variable B_OPT value changed from 'b-one' to 'b-two'`));
      expect(cause, lines.join("\n")).toBeGreaterThan(dep);
      expect(lines[cause]).toMatch(/^\s+Variable/);
      expect(lines.slice(dep, cause + 1).join("\n")).toContain("Dependency on task b:do_install changed hash");
    });
  });
});

describe("a build tree moved (renamed) to another path", () => {
  let tree: SigTree;
  beforeAll(() => {
    tree = sigTree();
  });
  afterAll(() => tree.remove());

  it("8b. nothing reruns after the move, and diffsigs still recurses into the dependency's siginfo (found by recipe, task and hash, as BitBake's find_siginfo)", async () => {
    await tree.run();
    const hashes = await tree.stampHashes("a");
    tree = tree.moveTo(`${tree.root}-mv`);
    expect(await tree.run()).toEqual([]);
    expect(await tree.stampHashes("a")).toEqual(hashes);
    tree.edit(B, `B_OPT = "b-one"`, `B_OPT = "b-two"`);
    expect(await tree.run()).toEqual(["b:install", "a:configure", "a:compile", "a:report", "a:install", "c:configure", "c:compile", "c:install"].sort());
    const out = await diffsigs(tree, "a", "configure");
    expect(out).toMatch(/^Dependency on task b:do_populate_sysroot changed hash/m);
    expect(out).toMatch(/^\s+Variable B_OPT value changed from 'b-one' to 'b-two'/m);
  });
});

describe("BB_TASKHASH_IGNORE_TASKS", () => {
  let tree: SigTree;
  beforeAll(() => {
    tree = sigTree({ local: `BB_TASKHASH_IGNORE_TASKS = "b"` });
  });
  afterAll(() => tree.remove());

  it("11. = \"b\": a change to b's tasks reruns b's tasks but not a's (a depends on b)", async () => {
    await tree.run();
    expect(await tree.run()).toEqual([]);
    const before = { a: await tree.stampHashes("a"), c: await tree.stampHashes("c") };
    await withEdit(tree, B, `B_OPT = "b-one"`, `B_OPT = "b-two"`, async () => {
      // a's and c's hashes do not change (b's hash is cut from a's signature)...
      const g = await kilnAt(tree).taskGraph({ targets: TARGETS });
      for (const pn of ["a", "c"] as const) {
        for (const [task, hash] of Object.entries(before[pn])) expect(byId(g, `${pn}:${task}`).taskhash, `${pn}:${task}`).toBe(hash);
      }
      // ...so, as in BitBake (whose check_stamp_task compares stamp times only within a recipe), a's tasks stay current
      expect(await tree.run()).toEqual(["b:install"]);
      expect(await diffsigs(tree, "b", "install")).toContain(`Variable B_OPT value changed from 'b-one' to 'b-two'`);
    });
    // the dependency is really dropped from a's signature
    const g = await kilnAt(tree).taskGraph({ targets: ["a"] });
    expect(byId(g, "a:do_configure").hashInputs?.droppedDeps).toEqual(["b:do_populate_sysroot"]);
  });
});

describe("-S none, and siginfo files that are not", () => {
  let tree: SigTree;
  beforeAll(() => {
    tree = sigTree();
  });
  afterAll(() => tree.remove());

  it("13. -S none writes a siginfo for every task of the graph, runs nothing, and its hashes are the ones a build stamps", async () => {
    const r = await tree.ok(["-S", "none", "a"]);
    expect(tree.lines("record")).toEqual([]);
    const graph = await kilnAt(tree).taskGraph({ targets: ["a"] });
    expect(graph.nodes.length).toBeGreaterThanOrEqual(14);
    const expected = graph.nodes.map((n) => `${n.recipe.stamp}.${n.task}.sigdata.${n.taskhash}`).sort();
    const written = [...(await tree.siginfos("a")), ...(await tree.siginfos("b"))].sort();
    expect(written).toEqual(expected);
    expect(r.out).toContain(`${graph.nodes.length} tasks`);
    for (const n of graph.nodes) expect(hasStamp(`${n.recipe.stamp}.${n.task}`), n.id).toBe(false);
    // a real build stamps the same hashes
    await tree.run(["a"]);
    for (const n of graph.nodes) expect((await tree.stampHashes(n.recipe.pn))[n.task], n.id).toBe(n.taskhash);
  });

  it("14. dumpsig (and diffsigs) of a file that is not a siginfo: exit 2, one clear error, no stack trace", async () => {
    const cases: Record<string, Buffer> = {
      "plain.txt": Buffer.from("this is not a siginfo file\n"),
      "other.json.gz": gzipSync(JSON.stringify({ hello: "world" })),
      "truncated.gz": gzipSync(JSON.stringify({ hello: "world" })).subarray(0, 12),
    };
    for (const [name, data] of Object.entries(cases)) {
      const file = tree.write(`build/${name}`, "");
      writeFileSync(file, data);
      for (const args of [["dumpsig", file], ["diffsigs", file, file]]) {
        const r = await tree.kiln(args);
        const what = `${args[0]} ${name}:\n${r.all}`;
        expect(r.code, what).toBe(2);
        expect(r.err, what).toMatch(/^ERROR: .*(siginfo|signature)/m);
        expect(r.err, what).toContain(basename(file));
        expect(r.all, what).not.toMatch(/^\s+at /m);
        expect(r.all, what).not.toMatch(/TypeError|Cannot read properties|run with -D/);
      }
    }
    // a missing file is "not found" (exit 1), also without a stack
    const missing = await tree.kiln(["dumpsig", join(tree.build, "no-such.sigdata")]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^ERROR: .*no-such\.sigdata/m);
    expect(missing.all).not.toMatch(/^\s+at /m);
  });

  it("14b. a gzip JSON file with a taskhash but none of the other siginfo fields: exit 2 and a clear error, not a TypeError", async () => {
    const file = tree.write("build/partial.sigdata", "");
    writeFileSync(file, gzipSync(JSON.stringify({ taskhash: "abc" })));
    if (!(await tree.siginfos("a")).length) await tree.ok(["-S", "none", "a"]);
    const real = (await tree.siginfos("a"))[0];
    for (const args of [["dumpsig", file], ["diffsigs", real, file]]) {
      const r = await tree.kiln(args);
      const what = `${args.join(" ")}:\n${r.all}`;
      expect(r.code, what).toBe(2);
      expect(r.err, what).toMatch(/^ERROR: .*partial\.sigdata.*(siginfo|signature)|^ERROR: .*(siginfo|signature).*partial\.sigdata/m);
      expect(r.all, what).not.toMatch(/TypeError|Cannot read properties|run with -D/);
    }
  });
});

describe("shellDeps (BitBake's ShellParser cases)", () => {
  beforeAll(() => initShellParser());
  const execs = (code: string) => [...shellDeps(code).execs].sort();

  it("finds commands in if, pipelines, subshells, $(...), backticks, loops, case and function bodies", () => {
    expect(execs(`if f_if; then :; fi`)).toContain("f_if");
    expect(execs(`a_cmd | f_pipe | sort`)).toEqual(expect.arrayContaining(["a_cmd", "f_pipe", "sort"]));
    expect(execs(`( f_sub )`)).toContain("f_sub");
    expect(execs(`x=$(f_cs arg)`)).toContain("f_cs");
    expect(execs("x=`f_bt`")).toContain("f_bt");
    expect(execs(`for i in 1 2; do f_loop $i; done`)).toContain("f_loop");
    expect(execs(`case $x in a) f_case ;; esac`)).toContain("f_case");
    expect(execs(`echo "$(f_quoted)"`)).toContain("f_quoted");
    expect(execs(`f_a && f_b || f_c`)).toEqual(expect.arrayContaining(["f_a", "f_b", "f_c"]));
  });

  it("a function the body defines itself is not a dependency, but what it runs is", () => {
    const e = execs(`inner() {\n\tf_from_inner\n}\ninner`);
    expect(e).toContain("f_from_inner");
    expect(e).not.toContain("inner");
  });

  it("variables read; eval of literal text is parsed, eval of a variable is reported as unknown", () => {
    expect([...shellDeps(`echo $FOO \${BAR}`).vars].sort()).toEqual(["BAR", "FOO"]);
    expect(execs(`eval "f_eval arg"`)).toContain("f_eval");
    const d = shellDeps(`eval "$CMD"`);
    expect(d.unknown.join("\n")).toMatch(/eval/);
    expect(shellDeps(`$TOOL --x`).unknown.length).toBeGreaterThan(0);
  });
});
