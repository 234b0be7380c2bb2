/**
 * Running tasks end to end (issue #3): shell and JS executors, run scripts and logs,
 * task flags, the scheduler, failures and -k, hooks and `addhandler`, stamps, -n,
 * --json, and interrupts. Every build runs in a temporary tree whose TMPDIR is inside
 * it; tasks record what they did (record files, start/end timestamps) so the
 * assertions check behaviour, not kiln's own report of it. KILN_KEEP_TMP=1 keeps
 * the trees.
 */
import { spawn } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { clearFileCache, Kiln, type BuildEvent } from "@kiln/core";
import { alive, buildTree, ENV, hasStamp, intervals, maxOverlap, removeStamps, timed, waitFor, type BuildTree } from "./helpers/build-tree.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const BIN = resolve(HERE, "../packages/cli/bin/kiln.js");

/** Every base.bbclass task body replaced by one that records `PN:task` (BB_CURRENTTASK). */
const RECORDING_CLASS = ["fetch", "unpack", "patch", "configure", "compile", "install"]
  .map((t) => `do_${t}() {\n\techo "\${PN}:\${BB_CURRENTTASK}" >> \${RECORD}\n}\n`)
  .join("");

/** Files of `dir` whose names match `re`. */
function filesIn(dir: string, re: RegExp): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => re.test(f)) : [];
}

/** 1-based line of the first line of `text` containing `needle`. */
function lineOf(text: string, needle: string): number {
  const i = text.split("\n").findIndex((l) => l.includes(needle));
  if (i < 0) throw new Error(`'${needle}' not in text`);
  return i + 1;
}

describe("shell tasks", () => {
  let tree: BuildTree;
  let T: string;
  let WORKDIR: string;
  let STAMP: string;
  const recipe = [
    `FOO = "foo value"`,
    `export FOO`,
    `TRICKY = 'say "hi" to $HOME and \`date\`'`,
    `export TRICKY`,
    `NOT_EXPORTED = "hidden value"`,
    `helper_one() {`,
    `\techo "helper one ran"`,
    `\thelper_two`,
    `}`,
    `helper_two() {`,
    `\techo "helper two ran"`,
    `}`,
    `unrelated_shell_function() {`,
    `\techo "nobody calls me"`,
    `}`,
    `do_x() {`,
    `\techo "cwd=$(pwd)"`,
    `\techo "FOO=$FOO"`,
    `\tprintf 'TRICKY=%s\\n' "$TRICKY"`,
    `\thelper_one`,
    `}`,
    `do_x[dirs] = "\${WORKDIR}/first \${WORKDIR}/second"`,
    `addtask x`,
    `do_fail() {`,
    `\techo "before the failure"`,
    `\tfalse`,
    `\techo "after the failure"`,
    `}`,
    `addtask fail`,
    `OVERRIDDEN = "plain value"`,
    `OVERRIDDEN:task-ov = "task override value"`,
    `do_ov() {`,
    `\techo "OVERRIDDEN=\${OVERRIDDEN}"`,
    `}`,
    `addtask ov`,
    `do_pw() {`,
    `\tif [ "$PWD" -ef . ]; then echo "PWD is the cwd"; else echo "PWD=$PWD is not the cwd $(pwd -P)"; fi`,
    `}`,
    `addtask pw`,
    ``,
  ].join("\n");

  beforeAll(async () => {
    tree = buildTree();
    tree.recipe("sh_1.0.bb", recipe);
    T = await tree.getvar("T", "sh");
    WORKDIR = await tree.getvar("WORKDIR", "sh");
    STAMP = await tree.getvar("STAMP", "sh");
  });
  afterAll(() => tree.remove());

  it("writes run.do_x.<pid> with exported variables, the task and the functions it reaches (only those), and cds to the last [dirs] entry", async () => {
    const r = await tree.kiln(["sh:do_x"]);
    expect(r.code, r.all).toBe(0);
    const runs = filesIn(T, /^run\.do_x\.\d+$/);
    expect(runs).toHaveLength(1);
    const script = readFileSync(join(T, runs[0]), "utf8");
    expect(script).toContain(`export FOO="foo value"\n`);
    expect(script).toMatch(/^export TRICKY=/m);
    expect(script).not.toContain("NOT_EXPORTED");
    expect(script).toMatch(/^do_x\(\) \{$/m);
    expect(script).toMatch(/^helper_one\(\) \{$/m);
    // reached only through helper_one: transitive
    expect(script).toMatch(/^helper_two\(\) \{$/m);
    expect(script).not.toContain("unrelated_shell_function");
    expect(script).not.toContain("nobody calls me");
    const second = join(WORKDIR, "second");
    const cd = new RegExp(`^cd ['"]?${second.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}['"]?$`, "m").exec(script);
    expect(cd).not.toBeNull();
    // the cd comes before the call of the task function
    const call = [...script.matchAll(/^do_x$/gm)].at(-1);
    expect(call?.index ?? -1).toBeGreaterThan(cd?.index ?? Infinity);
    expect(statSync(join(WORKDIR, "first")).isDirectory()).toBe(true);
    expect(statSync(second).isDirectory()).toBe(true);
  });

  it("logs to ${T}/log.do_x.<pid> with a log.do_x symlink to it; the task saw its cwd and exported values", async () => {
    // (ran in the previous test; run again if this one runs alone)
    if (!filesIn(T, /^log\.do_x\.\d+$/).length) expect((await tree.kiln(["sh:do_x"])).code).toBe(0);
    const logs = filesIn(T, /^log\.do_x\.\d+$/);
    expect(logs).toHaveLength(1);
    const link = join(T, "log.do_x");
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(realpathSync(link)).toBe(join(T, logs[0]));
    const log = readFileSync(link, "utf8");
    expect(log).toContain(`cwd=${join(WORKDIR, "second")}\n`);
    expect(log).toContain("FOO=foo value\n");
    expect(log).toContain('TRICKY=say "hi" to $HOME and `date`\n');
    expect(log).toContain("helper one ran\nhelper two ran\n");
    expect(log).not.toContain("nobody calls me");
    expect(hasStamp(`${STAMP}.do_x`)).toBe(true);
  });

  it("runs with bash -e: a failing command in the middle fails the task and the rest does not run", async () => {
    const r = await tree.kiln(["sh:do_fail"]);
    expect(r.code).toBe(1);
    const log = readFileSync(join(T, "log.do_fail"), "utf8");
    expect(log).toContain("before the failure");
    expect(log).not.toContain("after the failure");
    expect(hasStamp(`${STAMP}.do_fail`)).toBe(false);
  });

  it("applies the task-<name> override while a task runs, as BitBake's _task_data does", async () => {
    const r = await tree.kiln(["sh:do_ov"]);
    expect(r.code, r.all).toBe(0);
    expect(readFileSync(join(T, "log.do_ov"), "utf8")).toContain("OVERRIDDEN=task override value");
  });

  it("does not export the caller's PWD into the run script: $PWD is the directory the task runs in (BitBake drops PWD's export flag)", async () => {
    const r = await tree.kiln(["sh:do_pw"]);
    expect(r.code, r.all).toBe(0);
    expect(readFileSync(join(T, "log.do_pw"), "utf8")).toBe("PWD is the cwd\n");
  });
});

describe("JS tasks", () => {
  let tree: BuildTree;
  let T: string;
  let file: string;
  const recipe = [
    `js do_j () {`,
    `    const before = Date.now()`,
    `    await new Promise((resolve) => setTimeout(resolve, 60))`,
    `    const waited = Date.now() - before >= 50 ? "waited" : "did not wait"`,
    `    kiln.note(\`\${waited} in \${d.getVar("PN")} pid=\${process.pid}\`)`,
    `}`,
    `addtask j`,
    `js do_jfail () {`,
    `    kiln.note("about to throw")`,
    `    if (d.getVar("PN")) {`,
    `        throw new Error("js task exploded")`,
    `    }`,
    `}`,
    `addtask jfail`,
    ``,
  ].join("\n");

  beforeAll(async () => {
    tree = buildTree();
    file = tree.recipe("js_1.0.bb", recipe);
    T = await tree.getvar("T", "js");
  });
  afterAll(() => tree.remove());

  it("runs in process, may await, and kiln.note goes to the task log and to the output as a NOTE", async () => {
    const r = await tree.kiln(["js:do_j"]);
    expect(r.code, r.all).toBe(0);
    const note = `waited in js pid=${process.pid}`;
    expect(r.out).toMatch(new RegExp(`^NOTE: .*${note}$`, "m"));
    expect(readFileSync(join(T, "log.do_j"), "utf8")).toContain(note);
    // no shell was involved
    expect(filesIn(T, /^run\.do_j\./)).toEqual([]);
  });

  it("a thrown error fails the task, naming the metadata file and line of the throw", async () => {
    const r = await tree.kiln(["js:do_jfail"]);
    expect(r.code).toBe(1);
    const line = lineOf(recipe, `throw new Error("js task exploded")`);
    expect(r.err).toContain(`${file}:${line}`);
    expect(r.err).toContain("js task exploded");
    expect(readFileSync(join(T, "log.do_jfail"), "utf8")).toContain("about to throw");
  });
});

describe("a failing task", () => {
  let tree: BuildTree;
  const recipes = {
    "bad_1.0.bb": `do_x() {\n\techo "bad: first words"\n\techo "bad: last words"\n\tsleep 0.1\n\tfalse\n\techo "bad: never printed"\n}\naddtask x\n`,
    "slow_1.0.bb": `do_x() {\n\tsleep 0.7\n\techo "slow:x" >> \${RECORD}\n}\naddtask x\n`,
    "later_1.0.bb": `do_x() {\n\techo "later:x" >> \${RECORD}\n}\ndo_x[depends] = "slow:do_x"\naddtask x\n`,
    "dep_1.0.bb": `do_x() {\n\techo "dep:x" >> \${RECORD}\n}\ndo_x[depends] = "bad:do_x"\naddtask x\n`,
  };
  const targets = ["bad:do_x", "slow:do_x", "later:do_x", "dep:do_x"];

  beforeEach(() => {
    tree = buildTree({ local: `BB_NUMBER_THREADS = "4"` });
    for (const [f, text] of Object.entries(recipes)) tree.recipe(f, text);
  });
  afterEach(() => tree.remove());

  it("exits 1, shows the failure with the last lines of its log and the log path, writes no stamp; without -k nothing new starts but running tasks finish", async () => {
    const r = await tree.kiln(targets);
    expect(r.code).toBe(1);
    const T = await tree.getvar("T", "bad");
    const logs = filesIn(T, /^log\.do_x\.\d+$/);
    expect(logs).toHaveLength(1);
    const log = join(T, logs[0]);
    expect(r.err).toMatch(/bad:do_x/);
    expect(r.all).toContain(log);
    expect(r.err).toContain("bad: last words");
    expect(r.all).not.toContain("bad: never printed");
    expect(hasStamp(`${await tree.getvar("STAMP", "bad")}.do_x`)).toBe(false);
    // slow was running when bad failed: it finished (and is stamped); later (after slow) and dep never started
    expect(tree.lines("record")).toEqual(["slow:x"]);
    expect(hasStamp(`${await tree.getvar("STAMP", "slow")}.do_x`)).toBe(true);
    expect(hasStamp(`${await tree.getvar("STAMP", "later")}.do_x`)).toBe(false);
  });

  it("with -k every task that does not depend on the failure still runs, and its dependents do not", async () => {
    const r = await tree.kiln(["-k", ...targets]);
    expect(r.code).toBe(1);
    expect(tree.lines("record").sort()).toEqual(["later:x", "slow:x"]);
    expect(hasStamp(`${await tree.getvar("STAMP", "later")}.do_x`)).toBe(true);
    expect(hasStamp(`${await tree.getvar("STAMP", "dep")}.do_x`)).toBe(false);
  });
});

describe("task flags", () => {
  let tree: BuildTree;
  const classes = {
    "meta-t/classes/ppfuncs.bbclass": [
      `pre_sh() {`,
      `\techo "pre_sh:\${BB_CURRENTTASK}" >> \${RECORD_PP}`,
      `}`,
      `js pre_js () {`,
      `    const fs = process.getBuiltinModule("node:fs")`,
      `    fs.appendFileSync(d.getVar("RECORD_PP"), \`pre_js:\${d.getVar("BB_CURRENTTASK")}\\n\`)`,
      `}`,
      `js post_js () {`,
      `    const fs = process.getBuiltinModule("node:fs")`,
      `    fs.appendFileSync(d.getVar("RECORD_PP"), \`post_js:\${d.getVar("BB_CURRENTTASK")}\\n\`)`,
      `}`,
      `post_sh() {`,
      `\techo "post_sh:\${BB_CURRENTTASK}" >> \${RECORD_PP}`,
      `}`,
      ``,
    ].join("\n"),
  };
  const flags = [
    `inherit ppfuncs`,
    // cleandirs
    `do_clean() {`,
    `\tls -A \${WORKDIR}/scratch > \${WORKDIR}/listing`,
    `\ttouch \${WORKDIR}/scratch/made-by-task`,
    `}`,
    `do_clean[cleandirs] = "\${WORKDIR}/scratch"`,
    `addtask clean`,
    // noexec
    `do_placeholder() {`,
    `\techo "placeholder body" >> \${RECORD_NOEXEC}`,
    `}`,
    `do_placeholder[noexec] = "1"`,
    `addtask placeholder`,
    `do_afterph() {`,
    `\techo "afterph" >> \${RECORD_NOEXEC}`,
    `}`,
    `addtask afterph after do_placeholder`,
    // nostamp
    `do_always() {`,
    `\techo "always" >> \${RECORD_NOSTAMP}`,
    `}`,
    `do_always[nostamp] = "1"`,
    `addtask always`,
    `do_once() {`,
    `\techo "once" >> \${RECORD_NOSTAMP}`,
    `}`,
    `addtask once`,
    // umask
    `do_um() {`,
    `\ttouch \${WORKDIR}/umask-077`,
    `\tmkdir -p \${WORKDIR}/umask-dir`,
    `}`,
    `do_um[umask] = "077"`,
    `addtask um`,
    `do_noum() {`,
    `\ttouch \${WORKDIR}/umask-default`,
    `}`,
    `addtask noum`,
    `js do_jsum () {`,
    `    const fs = process.getBuiltinModule("node:fs")`,
    `    fs.writeFileSync(d.getVar("WORKDIR") + "/umask-js", "x")`,
    `}`,
    `do_jsum[umask] = "077"`,
    `addtask jsum`,
    // prefuncs / postfuncs
    `do_pp() {`,
    `\techo "body:\${BB_CURRENTTASK}" >> \${RECORD_PP}`,
    `}`,
    `do_pp[prefuncs] = "pre_sh pre_js"`,
    `do_pp[postfuncs] = "post_js post_sh"`,
    `addtask pp`,
    `js do_ppjs () {`,
    `    const fs = process.getBuiltinModule("node:fs")`,
    `    fs.appendFileSync(d.getVar("RECORD_PP"), \`body:\${d.getVar("BB_CURRENTTASK")}\\n\`)`,
    `}`,
    `do_ppjs[prefuncs] = "pre_sh"`,
    `do_ppjs[postfuncs] = "post_sh"`,
    `addtask ppjs`,
    `do_ppfail() {`,
    `\techo "body:\${BB_CURRENTTASK}" >> \${RECORD_PP}`,
    `\tfalse`,
    `}`,
    `do_ppfail[postfuncs] = "post_sh"`,
    `addtask ppfail`,
    // network
    `do_net() {`,
    `\techo "net" >> \${RECORD}`,
    `}`,
    `do_net[network] = "1"`,
    `addtask net`,
    ``,
  ].join("\n");

  let WORKDIR: string;
  let T: string;
  let STAMP: string;

  beforeAll(async () => {
    tree = buildTree({
      files: classes,
      local: [
        `BB_NUMBER_THREADS = "4"`,
        `RECORD_NOEXEC = "\${TOPDIR}/record-noexec"`,
        `RECORD_NOSTAMP = "\${TOPDIR}/record-nostamp"`,
        `RECORD_PP = "\${TOPDIR}/record-pp"`,
        `RECORD_TIMES = "\${TOPDIR}/record-times"`,
      ].join("\n"),
    });
    tree.recipe("flags_1.0.bb", flags);
    WORKDIR = await tree.getvar("WORKDIR", "flags");
    T = await tree.getvar("T", "flags");
    STAMP = await tree.getvar("STAMP", "flags");
  });
  afterAll(() => tree.remove());

  it("cleandirs: the directory is emptied (and recreated) before the task runs", async () => {
    mkdirSync(join(WORKDIR, "scratch"), { recursive: true });
    writeFileSync(join(WORKDIR, "scratch/stale"), "left over\n");
    const r = await tree.kiln(["flags:do_clean"]);
    expect(r.code, r.all).toBe(0);
    expect(readFileSync(join(WORKDIR, "listing"), "utf8")).toBe("");
    expect(existsSync(join(WORKDIR, "scratch/stale"))).toBe(false);
    expect(existsSync(join(WORKDIR, "scratch/made-by-task"))).toBe(true);
  });

  it("noexec: no run script and no body, the task counts as done (stamped) and its dependents run", async () => {
    const r = await tree.kiln(["flags:do_afterph"]);
    expect(r.code, r.all).toBe(0);
    expect(tree.lines("record-noexec")).toEqual(["afterph"]);
    expect(filesIn(T, /^run\.do_placeholder/)).toEqual([]);
    expect(hasStamp(`${STAMP}.do_placeholder`)).toBe(true);
    const again = await tree.kiln(["flags:do_afterph"]);
    expect(again.code).toBe(0);
    expect(tree.lines("record-noexec")).toEqual(["afterph"]);
  });

  it("nostamp: the task runs every time and leaves no stamp (a stamped task runs once)", async () => {
    for (let i = 0; i < 2; i++) expect((await tree.kiln(["flags:do_always", "flags:do_once"])).code).toBe(0);
    expect(tree.lines("record-nostamp").sort()).toEqual(["always", "always", "once"]);
    expect(hasStamp(`${STAMP}.do_always`)).toBe(false);
    expect(hasStamp(`${STAMP}.do_once`)).toBe(true);
  });

  it("umask: a file made by a shell task with [umask] = \"077\" has mode 0600 (without it, the process umask applies)", async () => {
    const r = await tree.kiln(["flags:do_um", "flags:do_noum"]);
    expect(r.code, r.all).toBe(0);
    expect(statSync(join(WORKDIR, "umask-077")).mode & 0o777).toBe(0o600);
    expect(statSync(join(WORKDIR, "umask-dir")).mode & 0o777).toBe(0o700);
    const umask = process.umask();
    expect(statSync(join(WORKDIR, "umask-default")).mode & 0o777).toBe(0o666 & ~umask);
  });

  it("umask applies to JS tasks too (BitBake's worker sets it for the whole task, python or shell)", async () => {
    const r = await tree.kiln(["flags:do_jsum"]);
    expect(r.code, r.all).toBe(0);
    expect(statSync(join(WORKDIR, "umask-js")).mode & 0o777).toBe(0o600);
  });

  it("BB_DEFAULT_UMASK applies to tasks without [umask], shell and JS; [umask] wins", async () => {
    const own = buildTree({ local: `BB_DEFAULT_UMASK = "027"` });
    own.recipe(
      "um_1.0.bb",
      [
        `do_sh() {`,
        `	touch \${WORKDIR}/from-sh`,
        `}`,
        `addtask sh`,
        `js do_js () {`,
        `    const fs = process.getBuiltinModule("node:fs")`,
        `    fs.writeFileSync(d.getVar("WORKDIR") + "/from-js", "x")`,
        `}`,
        `addtask js`,
        `do_flag() {`,
        `	touch \${WORKDIR}/from-flag`,
        `}`,
        `do_flag[umask] = "077"`,
        `addtask flag`,
      ].join("\n"),
    );
    try {
      const r = await own.kiln(["um:do_sh", "um:do_js", "um:do_flag"]);
      expect(r.code, r.all).toBe(0);
      const dir = await own.getvar("WORKDIR", "um");
      const mode = (f: string) => statSync(join(dir, f)).mode & 0o777;
      expect([mode("from-sh"), mode("from-js"), mode("from-flag")]).toEqual([0o640, 0o640, 0o600]);
    } finally {
      own.remove();
    }
  });

  it("prefuncs and postfuncs (shell and JS) run in order around the body, with BB_CURRENTTASK = the task name without do_", async () => {
    rmSync(tree.path("record-pp"), { force: true });
    const r = await tree.kiln(["flags:do_pp"]);
    expect(r.code, r.all).toBe(0);
    expect(tree.lines("record-pp")).toEqual(["pre_sh:pp", "pre_js:pp", "body:pp", "post_js:pp", "post_sh:pp"]);
    rmSync(tree.path("record-pp"), { force: true });
    const j = await tree.kiln(["flags:do_ppjs"]);
    expect(j.code, j.all).toBe(0);
    expect(tree.lines("record-pp")).toEqual(["pre_sh:ppjs", "body:ppjs", "post_sh:ppjs"]);
  });

  it("postfuncs do not run after a failed body", async () => {
    rmSync(tree.path("record-pp"), { force: true });
    const r = await tree.kiln(["flags:do_ppfail"]);
    expect(r.code).toBe(1);
    expect(tree.lines("record-pp")).toEqual(["body:ppfail"]);
  });

  it("network is accepted and changes nothing", async () => {
    const r = await tree.kiln(["flags:do_net"]);
    expect(r.code, r.all).toBe(0);
    expect(tree.lines("record")).toContain("net");
  });
});

describe("lockfiles and number_threads", () => {
  let tree: BuildTree;
  beforeAll(() => {
    tree = buildTree({ local: `BB_NUMBER_THREADS = "4"\nRECORD_TIMES = "\${TOPDIR}/record-times"` });
    for (const n of [1, 2]) {
      // two recipes sharing a lock, and two identical ones without it (the control)
      tree.recipe(
        `lk${n}_1.0.bb`,
        `do_lk() {\n${timed(`lk${n}`, "${RECORD_TIMES}", "\tsleep 0.3")}}\ndo_lk[lockfiles] = "\${TMPDIR}/shared.lock"\naddtask lk\n` +
          `do_nl() {\n${timed(`nl${n}`, "${RECORD_TIMES}", "\tsleep 0.3")}}\naddtask nl\n`,
      );
    }
    for (const n of [1, 2, 3, 4]) {
      tree.recipe(
        `nt${n}_1.0.bb`,
        `do_compile() {\n${timed(`compile${n}`, "${RECORD_TIMES}", "\tsleep 0.2")}}\ndo_compile[number_threads] = "1"\n` +
          `do_work() {\n${timed(`work${n}`, "${RECORD_TIMES}", "\tsleep 0.2")}}\naddtask work\n`,
      );
    }
  });
  afterAll(() => tree.remove());
  beforeEach(() => rmSync(tree.path("record-times"), { force: true }));

  it("two tasks in different recipes sharing a [lockfiles] entry never overlap (the same tasks without it do)", async () => {
    const r = await tree.kiln(["lk1:do_lk", "lk2:do_lk", "lk1:do_nl", "lk2:do_nl"]);
    expect(r.code, r.all).toBe(0);
    const all = intervals(tree.lines("record-times"));
    const locked = all.filter((i) => i.name.startsWith("lk"));
    const free = all.filter((i) => i.name.startsWith("nl"));
    expect(locked).toHaveLength(2);
    expect(maxOverlap(locked)).toBe(1);
    expect(maxOverlap(free)).toBe(2);
  });

  it("do_compile[number_threads] = \"1\" with BB_NUMBER_THREADS = \"4\": never two compiles at once, while other tasks run in parallel", async () => {
    const r = await tree.kiln(["nt1", "nt2", "nt3", "nt4", "nt1:do_work", "nt2:do_work", "nt3:do_work", "nt4:do_work"]);
    expect(r.code, r.all).toBe(0);
    const all = intervals(tree.lines("record-times"));
    const compiles = all.filter((i) => i.name.startsWith("compile"));
    expect(compiles).toHaveLength(4);
    expect(maxOverlap(compiles)).toBe(1);
    expect(maxOverlap(all)).toBeGreaterThan(1);
    expect(maxOverlap(all)).toBeLessThanOrEqual(4);
  });
});

describe("parallelism", () => {
  const trees: BuildTree[] = [];
  afterAll(() => trees.forEach((t) => t.remove()));

  function sleepers(threads: string, n: number, seconds: string): BuildTree {
    const tree = buildTree({ local: `BB_NUMBER_THREADS = "${threads}"\nRECORD_TIMES = "\${TOPDIR}/record-times"` });
    trees.push(tree);
    for (let i = 1; i <= n; i++) tree.recipe(`p${i}_1.0.bb`, `do_s() {\n${timed(`p${i}`, "${RECORD_TIMES}", `\tsleep ${seconds}`)}}\naddtask s\n`);
    return tree;
  }
  const targets = (n: number) => Array.from({ length: n }, (_, i) => `p${i + 1}:do_s`);

  it("BB_NUMBER_THREADS = \"2\": at most two tasks run at once, and two do", async () => {
    const tree = sleepers("2", 6, "0.25");
    const r = await tree.kiln(targets(6));
    expect(r.code, r.all).toBe(0);
    const list = intervals(tree.lines("record-times"));
    expect(list).toHaveLength(6);
    expect(maxOverlap(list)).toBe(2);
  });

  it("BB_NUMBER_THREADS = \"1\": never more than one task at a time", async () => {
    const tree = sleepers("1", 3, "0.15");
    const r = await tree.kiln(targets(3));
    expect(r.code, r.all).toBe(0);
    const list = intervals(tree.lines("record-times"));
    expect(list).toHaveLength(3);
    expect(maxOverlap(list)).toBe(1);
  });

  it("ready tasks start longest remaining path first", async () => {
    const tree = buildTree({ local: `BB_NUMBER_THREADS = "1"` });
    trees.push(tree);
    tree.recipe("solo_1.0.bb", `do_s() {\n\techo "solo:s" >> \${RECORD}\n}\naddtask s\n`);
    tree.recipe(
      "chain_1.0.bb",
      ["c1", "c2", "c3"].map((t) => `do_${t}() {\n\techo "chain:${t}" >> \${RECORD}\n}\n`).join("") +
        `addtask c1\naddtask c2 after do_c1\naddtask c3 after do_c2\n`,
    );
    const r = await tree.kiln(["solo:do_s", "chain:do_c3"]);
    expect(r.code, r.all).toBe(0);
    expect(tree.lines("record")[0]).toBe("chain:c1");
    expect(tree.lines("record")).toHaveLength(4);
  });
});

describe("hooks (core API)", () => {
  let tree: BuildTree;
  const order: string[] = [];
  const g = globalThis as { __kilnTestOrder?: string[] };
  const recipe = [
    `js pre_js () {`,
    `    globalThis.__kilnTestOrder?.push(\`prefunc:\${d.getVar("BB_CURRENTTASK")}\`)`,
    `}`,
    `js post_js () {`,
    `    globalThis.__kilnTestOrder?.push(\`postfunc:\${d.getVar("BB_CURRENTTASK")}\`)`,
    `}`,
    `js do_h () {`,
    `    globalThis.__kilnTestOrder?.push("body")`,
    `}`,
    `do_h[prefuncs] = "pre_js"`,
    `do_h[postfuncs] = "post_js"`,
    `addtask h`,
    `do_replaced() {`,
    `\techo "metadata body of replaced" >> \${RECORD}`,
    `}`,
    `addtask replaced`,
    `do_declined() {`,
    `\techo "metadata body of declined" >> \${RECORD}`,
    `}`,
    `addtask declined`,
    `do_guarded() {`,
    `\techo "metadata body of guarded" >> \${RECORD}`,
    `}`,
    `addtask guarded`,
    ``,
  ].join("\n");

  beforeEach(() => {
    tree = buildTree();
    tree.recipe("hk_1.0.bb", recipe);
    order.length = 0;
    g.__kilnTestOrder = order;
  });
  afterEach(() => {
    delete g.__kilnTestOrder;
    tree.remove();
  });

  function kilnFor(): Kiln {
    clearFileCache();
    return new Kiln({ cwd: tree.build, env: ENV });
  }

  it("fires buildStarted, taskStarted, taskPre, prefuncs, body, postfuncs, taskPost, taskSucceeded, buildCompleted in that order", async () => {
    const kiln = kilnFor();
    const h = kiln.hooks;
    h.buildStarted.tap("t", (e) => order.push(`buildStarted:${e.toRun}`));
    h.taskStarted.tap("t", (e) => order.push(`taskStarted:${e.id}`));
    h.taskPre.tapPromise("t", async (task, d) => {
      order.push(`taskPre:${task.id}:${d.getVar("BB_CURRENTTASK")}`);
    });
    h.taskPost.tapPromise("t", async (task, _d, result) => {
      order.push(`taskPost:${task.id}:${result.ok}`);
    });
    h.taskSucceeded.tap("t", (e) => order.push(`taskSucceeded:${e.id}`));
    h.taskFailed.tap("t", (e) => order.push(`taskFailed:${e.id}`));
    h.buildCompleted.tap("t", (e) => order.push(`buildCompleted:${e.succeeded}/${e.failed}`));
    const graph = await kiln.taskGraph({ targets: ["hk:do_h"] });
    const result = await kiln.build(graph);
    expect(result.failed).toBe(0);
    expect(order).toEqual([
      "buildStarted:1",
      "taskStarted:hk:do_h",
      "taskPre:hk:do_h:h",
      "prefunc:h",
      "body",
      "postfunc:h",
      "taskPost:hk:do_h:true",
      "taskSucceeded:hk:do_h",
      "buildCompleted:1/0",
    ]);
  });

  it("taskFunction supplies a task's body: the metadata body does not run; a tap returning undefined leaves the metadata body", async () => {
    const kiln = kilnFor();
    kiln.hooks.taskFunction.for("do_replaced").tapPromise("t", async (_task, d, ctx) => {
      ctx.log(`plugin body ran for ${d.getVar("PN")}`);
      return true;
    });
    kiln.hooks.taskFunction.for("do_declined").tapPromise("t", async () => undefined);
    const graph = await kiln.taskGraph({ targets: ["hk:do_replaced", "hk:do_declined"] });
    const result = await kiln.build(graph);
    expect(result).toMatchObject({ succeeded: 2, failed: 0 });
    expect(tree.lines("record")).toEqual(["metadata body of declined"]);
    const T = await tree.getvar("T", "hk");
    expect(readFileSync(join(T, "log.do_replaced"), "utf8")).toContain("plugin body ran for hk");
    expect(hasStamp(`${await tree.getvar("STAMP", "hk")}.do_replaced`)).toBe(true);
  });

  it("taskPre throwing fails the task: its body does not run, taskFailed fires, no stamp", async () => {
    const kiln = kilnFor();
    const failed: BuildEvent[] = [];
    kiln.hooks.taskPre.tapPromise("t", async (task) => {
      if (task.task === "do_guarded") throw new Error("vetoed by taskPre");
    });
    kiln.hooks.taskPost.tapPromise("t", async (task, _d, result) => {
      order.push(`taskPost:${task.task}:${result.ok}`);
    });
    kiln.hooks.taskFailed.tap("t", (e) => failed.push(e));
    kiln.hooks.taskSucceeded.tap("t", (e) => order.push(`taskSucceeded:${e.task}`));
    const graph = await kiln.taskGraph({ targets: ["hk:do_guarded"] });
    const result = await kiln.build(graph);
    expect(result).toMatchObject({ succeeded: 0, failed: 1 });
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ type: "TaskFailed", id: "hk:do_guarded" });
    expect((failed[0] as { message: string }).message).toContain("vetoed by taskPre");
    expect(order).toEqual(["taskPost:do_guarded:false"]);
    expect(tree.lines("record")).toEqual([]);
    expect(hasStamp(`${await tree.getvar("STAMP", "hk")}.do_guarded`)).toBe(false);
  });
});

describe("addhandler event handlers", () => {
  let tree: BuildTree;
  beforeAll(() => {
    tree = buildTree({
      local: `INHERIT += "evlog"\nEVLOG = "\${TOPDIR}/evlog"`,
      files: {
        "meta-t/classes/evlog.bbclass": [
          `js ev_all () {`,
          `    const fs = process.getBuiltinModule("node:fs")`,
          `    fs.appendFileSync(d.getVar("EVLOG"), \`all \${e.type} \${e.pn ?? "-"} \${e.taskname ?? "-"}\\n\`)`,
          `}`,
          `addhandler ev_all`,
          `js ev_masked () {`,
          `    const fs = process.getBuiltinModule("node:fs")`,
          `    fs.appendFileSync(d.getVar("EVLOG"), \`masked \${e.type} \${e.pn ?? "-"} \${e.taskname ?? "-"}\\n\`)`,
          `}`,
          `addhandler ev_masked`,
          `ev_masked[eventmask] = "bb.build.TaskStarted bb.build.TaskSucceeded"`,
          ``,
        ].join("\n"),
      },
    });
    tree.recipe("ev_1.0.bb", `do_ok() {\n\t:\n}\naddtask ok\ndo_bad() {\n\tfalse\n}\naddtask bad\n`);
  });
  afterAll(() => tree.remove());
  beforeEach(() => rmSync(tree.path("evlog"), { force: true }));

  it("receive BuildStarted, TaskStarted, TaskSucceeded, BuildCompleted with e.type, e.pn, e.taskname; [eventmask] filters", async () => {
    const r = await tree.kiln(["ev:do_ok"]);
    expect(r.code, r.all).toBe(0);
    const lines = tree.lines("evlog");
    expect(lines.filter((l) => l.startsWith("all "))).toEqual([
      "all BuildStarted - -",
      "all TaskStarted ev do_ok",
      "all TaskSucceeded ev do_ok",
      "all BuildCompleted - -",
    ]);
    expect(lines.filter((l) => l.startsWith("masked "))).toEqual(["masked TaskStarted ev do_ok", "masked TaskSucceeded ev do_ok"]);
  });

  it("receive TaskFailed (and the mask keeps it from a handler that did not ask for it)", async () => {
    const r = await tree.kiln(["ev:do_bad"]);
    expect(r.code).toBe(1);
    const lines = tree.lines("evlog");
    expect(lines).toContain("all TaskFailed ev do_bad");
    expect(lines).not.toContain("all TaskSucceeded ev do_bad");
    expect(lines.filter((l) => l.startsWith("masked "))).toEqual(["masked TaskStarted ev do_bad"]);
  });
});

describe("stamps, -f, -n, --json", () => {
  let tree: BuildTree;
  let STAMP: string;
  const chain = ["st:fetch", "st:unpack", "st:patch", "st:configure", "st:compile", "st:install"];
  beforeEach(async () => {
    tree = buildTree({ local: `BB_NUMBER_THREADS = "2"`, files: { "meta-t/classes/recording.bbclass": RECORDING_CLASS } });
    tree.recipe(
      "st_1.0.bb",
      `inherit recording\ndo_compile() {\n\techo "\${PN}:\${BB_CURRENTTASK}" >> \${RECORD}\n\t[ ! -e \${TOPDIR}/fail-compile ]\n}\n`,
    );
    STAMP = await tree.getvar("STAMP", "st");
  });
  afterEach(() => tree.remove());
  const clearRecord = () => rmSync(tree.path("record"), { force: true });

  it("a second identical run executes nothing and says every task was current", async () => {
    expect((await tree.kiln(["st"])).code).toBe(0);
    expect(tree.lines("record")).toEqual(chain);
    for (const t of ["fetch", "unpack", "patch", "configure", "compile", "install", "populate_sysroot"]) {
      expect(hasStamp(`${STAMP}.do_${t}`), t).toBe(true);
    }
    clearRecord();
    const again = await tree.kiln(["st"]);
    expect(again.code).toBe(0);
    expect(tree.lines("record")).toEqual([]);
    expect(again.out).not.toMatch(/Running task/);
    const install = await tree.kiln(["st:do_install"]);
    expect(install.out).toMatch(/Attempted 6 tasks of which 6 didn't need to be rerun and all succeeded/);
    expect(tree.lines("record")).toEqual([]);
  });

  it("-c compile -f reruns compile; the next plain build reruns what follows compile but not what precedes it", async () => {
    expect((await tree.kiln(["st"])).code).toBe(0);
    clearRecord();
    const forced = await tree.kiln(["st", "-c", "compile", "-f"]);
    expect(forced.code, forced.all).toBe(0);
    expect(tree.lines("record")).toEqual(["st:compile"]);
    clearRecord();
    const next = await tree.kiln(["st"]);
    expect(next.code).toBe(0);
    expect(tree.lines("record")).toEqual(["st:install"]);
  });

  it("-f invalidates the forced task's stamp: when the forced run fails, the next build runs it again", async () => {
    expect((await tree.kiln(["st"])).code).toBe(0);
    tree.write("build/fail-compile", "");
    expect((await tree.kiln(["st", "-c", "compile", "-f"])).code).toBe(1);
    rmSync(tree.path("fail-compile"));
    clearRecord();
    expect((await tree.kiln(["st"])).code).toBe(0);
    expect(tree.lines("record")).toEqual(["st:compile", "st:install"]);
  });

  it("a missing stamp reruns that task and everything after it in the recipe, not what comes before", async () => {
    expect((await tree.kiln(["st"])).code).toBe(0);
    clearRecord();
    removeStamps(`${STAMP}.do_configure`);
    expect((await tree.kiln(["st"])).code).toBe(0);
    expect(tree.lines("record")).toEqual(["st:configure", "st:compile", "st:install"]);
  });

  it("-n prints what would run and runs nothing: no record, no stamps", async () => {
    const r = await tree.kiln(["st", "-n"]);
    expect(r.code).toBe(0);
    for (const t of ["do_fetch", "do_configure", "do_install"]) expect(r.out).toContain(`st:${t}`);
    expect(tree.lines("record")).toEqual([]);
    expect(existsSync(dirname(STAMP)) ? readdirSync(dirname(STAMP)) : []).toEqual([]);
    // and the real build afterwards runs everything
    expect((await tree.kiln(["st"])).code).toBe(0);
    expect(tree.lines("record")).toEqual(chain);
  });

  it("--json prints one parseable JSON event per line, with TaskStarted/TaskSucceeded per task and BuildCompleted last", async () => {
    const r = await tree.kiln(["st:do_install", "--json"]);
    expect(r.code).toBe(0);
    const lines = r.out.split("\n").filter(Boolean);
    const events = lines.map((l) => JSON.parse(l) as BuildEvent);
    expect(events[0].type).toBe("BuildStarted");
    expect(events.at(-1)).toMatchObject({ type: "BuildCompleted", succeeded: 6, failed: 0 });
    const started = events.filter((e) => e.type === "TaskStarted").map((e) => (e as { id: string }).id);
    const succeeded = events.filter((e) => e.type === "TaskSucceeded").map((e) => (e as { id: string }).id);
    const ids = chain.map((t) => t.replace(":", ":do_"));
    expect(started.sort()).toEqual([...ids].sort());
    expect(succeeded.sort()).toEqual([...ids].sort());
  });
});

/** Start the real `kiln` binary; resolves its exit (or "timeout") after a signal. */
function spawnKiln(tree: BuildTree, args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: tree.build, env: { ...ENV, PWD: tree.build }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (b) => (output += b));
  child.stderr.on("data", (b) => (output += b));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on("exit", (code, sig) => res({ code, signal: sig })));
  return {
    child,
    output: () => output,
    /** The exit, or "timeout" when it takes longer than `ms`. */
    exit: (ms: number) => Promise.race([exited, new Promise<"timeout">((r) => setTimeout(() => r("timeout"), ms))]),
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

describe("interrupting a build", () => {
  let tree: BuildTree;
  let STAMP: string;
  beforeEach(async () => {
    tree = buildTree({ local: `BB_NUMBER_THREADS = "4"` });
    tree.recipe(
      "intr_1.0.bb",
      [
        `do_hang() {`,
        `\tsleep 30 &`,
        `\techo $! >> \${TOPDIR}/pids`,
        `\techo $$ >> \${TOPDIR}/pids`,
        `\tsh -c 'echo $$ >> \${TOPDIR}/pids; touch \${TOPDIR}/started; exec sleep 30'`,
        `\techo "after the sleep" >> \${RECORD}`,
        `}`,
        `addtask hang`,
        `js do_jswait () {`,
        `    const fs = process.getBuiltinModule("node:fs")`,
        `    fs.writeFileSync(d.getVar("TOPDIR") + "/started", "")`,
        `    await new Promise((resolve) => setTimeout(resolve, 20000))`,
        `    fs.appendFileSync(d.getVar("RECORD"), "jswait finished\\n")`,
        `}`,
        `addtask jswait`,
        ``,
      ].join("\n"),
    );
    // two recipes whose tasks share a lock: one holds it, the other waits for it
    for (const n of [1, 2]) {
      tree.recipe(
        `li${n}_1.0.bb`,
        `do_l() {\n\ttouch \${TOPDIR}/body-ran-li${n}\n\techo $$ >> \${TOPDIR}/pids\n` +
          `\tsh -c 'echo $$ >> \${TOPDIR}/pids; touch \${TOPDIR}/started; exec sleep 30'\n}\n` +
          `do_l[lockfiles] = "\${TMPDIR}/interrupt.lock"\naddtask l\n`,
      );
    }
    STAMP = await tree.getvar("STAMP", "intr");
  });
  afterEach(() => {
    // never leave sleeps behind, whatever the test found
    for (const pid of tree.lines("pids").map(Number)) if (alive(pid)) process.kill(pid, "SIGKILL");
    tree.remove();
  });

  it.each(["SIGINT", "SIGTERM"] as const)("%s stops the running task's processes, exits non-zero, and leaves no stamp", async (signal) => {
    const kiln = spawnKiln(tree, ["intr:do_hang"]);
    try {
      expect(await waitFor(() => tree.exists("started"), 15000), kiln.output()).toBe(true);
      const pids = tree.lines("pids").map(Number);
      expect(pids).toHaveLength(3);
      expect(pids.every(alive)).toBe(true);
      kiln.child.kill(signal);
      // promptly: well before any SIGKILL fallback for tasks that ignore SIGTERM
      const result = await kiln.exit(2500);
      expect(result, kiln.output()).not.toBe("timeout");
      const { code } = result as { code: number | null };
      expect(code === null || code !== 0, kiln.output()).toBe(true);
      expect(await waitFor(() => !pids.some(alive), 3000), `still alive: ${pids.filter(alive)}`).toBe(true);
      expect(hasStamp(`${STAMP}.do_hang`)).toBe(false);
      expect(tree.lines("record")).toEqual([]);
    } finally {
      kiln.stop();
    }
  });

  it("SIGINT while a task waits for a [lockfiles] lock: the waiting task's body never starts", async () => {
    const kiln = spawnKiln(tree, ["li1:do_l", "li2:do_l"]);
    try {
      expect(await waitFor(() => tree.exists("started"), 15000), kiln.output()).toBe(true);
      const holder = ["li1", "li2"].filter((pn) => tree.exists(`body-ran-${pn}`));
      expect(holder).toHaveLength(1);
      kiln.child.kill("SIGINT");
      expect(await kiln.exit(5000), kiln.output()).not.toBe("timeout");
      // the other task was still waiting for the lock when the build was interrupted
      expect(["li1", "li2"].filter((pn) => tree.exists(`body-ran-${pn}`))).toEqual(holder);
      for (const pn of ["li1", "li2"]) expect(existsSync(`${await tree.getvar("STAMP", pn)}.do_l`)).toBe(false);
    } finally {
      kiln.stop();
    }
  });

  it("SIGINT during a JS task that awaits: kiln stops within seconds and stamps nothing", async () => {
    const kiln = spawnKiln(tree, ["intr:do_jswait"]);
    try {
      expect(await waitFor(() => tree.exists("started"), 15000), kiln.output()).toBe(true);
      kiln.child.kill("SIGINT");
      const result = await kiln.exit(5000);
      expect(result, `still running 5 s after SIGINT:\n${kiln.output()}`).not.toBe("timeout");
      expect(hasStamp(`${STAMP}.do_jswait`)).toBe(false);
      expect(tree.lines("record")).toEqual([]);
    } finally {
      kiln.stop();
    }
  });
});
