/**
 * The task graph through the CLI (issue 3): which tasks `kiln` runs for a target,
 * in what partial order, with which providers, and what `-n` / `-g` show; the
 * dependency errors with their exit codes and error codes.
 *
 * Builds use fixtures/meta-test (every dependency flag and provider rule; its
 * record class makes each executed task append `PN:task` to a record file). Error
 * cases and corner cases of [recrdeptask] get small temp layers written here.
 * kiln runs in-process from a temp directory with BBPATH pointing at the fixture's
 * build directory, so TMPDIR, the record and -g's files all land in the temp dir.
 *
 * The reference for every expectation is BitBake: lib/bb/runqueue.py
 * (RunQueueData.prepare), lib/bb/taskdata.py, lib/bb/providers.py, lib/bb/cache.py.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { clearFileCache, Kiln, type TaskGraph } from "@kiln/core";
import { main } from "@kiln/cli";
import { hasStamp } from "./helpers/build-tree.js";

const FIXTURE = resolve(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "meta-test");
const FIXTURE_BUILD = join(FIXTURE, "build");

// ---------------------------------------------------------------- harness

let work: string;

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), "kiln-task-graph-"));
});
afterEach(() => {
  if (process.env.KILN_KEEP_TMP === "1") console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
});

interface Run {
  code: number;
  out: string;
  err: string;
}

/** The environment a build of the fixture gets: TMPDIR and the record redirected into `work`. */
function fixtureEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: work,
    BBPATH: FIXTURE_BUILD,
    BB_ENV_PASSTHROUGH_ADDITIONS: ["KILN_TEST_TMPDIR", "KILN_TEST_RECORD", ...Object.keys(extra)].join(" "),
    KILN_TEST_TMPDIR: join(work, "tmp"),
    KILN_TEST_RECORD: join(work, "record"),
    ...extra,
  };
}

/** `kiln ARGS` in-process, from `cwd` (default: the temp dir, BBPATH finds the fixture). */
async function kiln(args: string[], env: Record<string, string> = fixtureEnv(), cwd = work): Promise<Run> {
  clearFileCache();
  let out = "";
  let err = "";
  const code = await main(args, { cwd, env, io: { out: (t) => (out += t), err: (t) => (err += t) } });
  return { code, out, err };
}

/** Every line of the record file; task lines are `pn:task`, marker lines start with `#`. */
function recordLines(): string[] {
  const file = join(work, "record");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").split("\n").filter(Boolean);
}
const executed = () => recordLines().filter((l) => !l.startsWith("#"));

/** `a` happened before `b` in `lines` (both must be there). */
function expectBefore(lines: string[], a: string, b: string): void {
  const ia = lines.indexOf(a);
  const ib = lines.indexOf(b);
  expect(ia, `${a} should have run`).toBeGreaterThanOrEqual(0);
  expect(ib, `${b} should have run`).toBeGreaterThanOrEqual(0);
  expect(ia, `${a} should run before ${b}`).toBeLessThan(ib);
}

const sorted = (xs: Iterable<string>) => [...xs].sort();

// base.bbclass's executing tasks, in order (populate_sysroot and build are noexec)
const CHAIN = ["fetch", "unpack", "patch", "configure", "compile", "install"];
/** `pn:fetch` ... `pn:last` along the base chain. */
const upTo = (pn: string, last: string) => CHAIN.slice(0, CHAIN.indexOf(last) + 1).map((t) => `${pn}:${t}`);
const built = (pn: string) => upTo(pn, "install");
/** app's chain has its own do_lint (after do_patch, before do_configure). */
const appUpTo = (last: string) => {
  const chain = ["fetch", "unpack", "patch", "lint", "configure", "compile", "install"];
  return chain.slice(0, chain.indexOf(last) + 1).map((t) => `app:${t}`);
};
const packaged = (...pns: string[]) => pns.map((pn) => `${pn}:package`);

/** task-depends.dot as BitBake writes it: `"pn.do_x" [label="pn do_x\n:ver\nfile"]` and `"a" -> "b"`. */
interface Dot {
  /** `pn:do_task` -> label */
  nodes: Map<string, string>;
  /** `pn:do_task` -> its dependencies */
  deps: Map<string, Set<string>>;
}

/** BitBake splits `pn.do_task` at the last dot. */
const dotId = (name: string) => {
  const at = name.lastIndexOf(".");
  return `${name.slice(0, at)}:${name.slice(at + 1)}`;
};

function parseDot(text: string): Dot {
  const lines = text.split("\n");
  expect(lines[0]).toBe("digraph depends {");
  expect(lines.at(-1) === "" ? lines.at(-2) : lines.at(-1)).toBe("}");
  const nodes = new Map<string, string>();
  const deps = new Map<string, Set<string>>();
  for (const line of lines.slice(1)) {
    if (line === "}" || line === "") continue;
    const node = /^"([^"]+)" \[label="(.*)"\]$/.exec(line);
    if (node) {
      nodes.set(dotId(node[1]), node[2]);
      if (!deps.has(dotId(node[1]))) deps.set(dotId(node[1]), new Set());
      continue;
    }
    const edge = /^"([^"]+)" -> "([^"]+)"$/.exec(line);
    expect(edge, `unexpected line in task-depends.dot: ${line}`).not.toBeNull();
    const from = dotId((edge as RegExpExecArray)[1]);
    if (!deps.has(from)) deps.set(from, new Set());
    (deps.get(from) as Set<string>).add(dotId((edge as RegExpExecArray)[2]));
  }
  // every edge ends at a node of the graph
  for (const [from, ds] of deps) {
    expect(nodes.has(from), `${from} has edges but no node line`).toBe(true);
    for (const d of ds) expect(nodes.has(d), `${from} -> ${d}: no such node`).toBe(true);
  }
  return { nodes, deps };
}

/** `kiln -g ARGS`: the parsed task-depends.dot and pn-buildlist. */
async function graphOf(args: string[], env = fixtureEnv()): Promise<{ dot: Dot; buildlist: string[]; run: Run }> {
  const run = await kiln(["-g", ...args], env);
  expect(run.err).toBe("");
  expect(run.code).toBe(0);
  const dot = parseDot(readFileSync(join(work, "task-depends.dot"), "utf8"));
  const buildlist = readFileSync(join(work, "pn-buildlist"), "utf8").split("\n").filter(Boolean);
  return { dot, buildlist, run };
}

const depsOf = (dot: Dot, id: string) => sorted(dot.deps.get(id) ?? new Set());
const pnsOf = (dot: Dot) => new Set([...dot.nodes.keys()].map((id) => id.slice(0, id.lastIndexOf(":"))));

/** A throwaway build directory + layer; `files` are relative to the layer. */
function tempLayer(files: Record<string, string>, localConf = ""): { build: string; env: Record<string, string> } {
  const root = join(work, "layer-root");
  const put = (rel: string, text: string) => {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
  };
  put("build/conf/bblayers.conf", `BBPATH = "\${TOPDIR}"\nBBLAYERS = "\${TOPDIR}/../meta-x"\n`);
  put("build/conf/local.conf", `TMPDIR = "${join(work, "tmp")}"\n${localConf}`);
  put(
    "meta-x/conf/layer.conf",
    `BBPATH .= ":\${LAYERDIR}"\nBBFILES += "\${LAYERDIR}/recipes/*.bb"\nBBFILE_COLLECTIONS += "x"\nBBFILE_PATTERN_x = "^\${LAYERDIR}/"\nBBFILE_PRIORITY_x = "5"\n`,
  );
  for (const [rel, text] of Object.entries(files)) put(join("meta-x", rel), text);
  const build = join(root, "build");
  return { build, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: work } };
}

/** The core API on a temp layer: the task graph, or the error it throws. */
async function coreGraph(build: string, env: Record<string, string>, targets: string[], options: { cmd?: string } = {}): Promise<TaskGraph> {
  clearFileCache();
  return new Kiln({ cwd: build, env }).taskGraph({ targets, ...options });
}
const graphDeps = (g: TaskGraph, id: string) => {
  const node = g.nodes.find((n) => n.id === id);
  expect(node, `${id} should be in the graph`).toBeDefined();
  return sorted((node as (typeof g.nodes)[number]).deps.map((i) => g.nodes[i].id));
};

// ---------------------------------------------------------------- what runs

interface BuildCase {
  name: string;
  args: string[];
  env?: Record<string, string>;
  /** Exactly the tasks that execute (noexec tasks never do). */
  tasks: string[];
  /** [a, b]: a finished before b started. */
  order?: [string, string][];
}

const APP_DEPS = [...built("fetchtool"), ...built("libbase"), ...built("gcc-lite"), ...built("libnet"), ...built("codegen")];

const BUILD_CASES: BuildCase[] = [
  {
    name: "kiln app: its own chain, DEPENDS (via [deptask]) and [depends] targets, nothing only runtime-needed",
    args: ["app"],
    tasks: [...APP_DEPS, ...appUpTo("install"), "app:report"],
    order: [
      ["fetchtool:install", "app:fetch"], // do_fetch[depends] = fetchtool:do_populate_sysroot (noexec, after install)
      ["libbase:install", "libnet:configure"], // libnet DEPENDS libbase, do_configure[deptask]
      ["gcc-lite:install", "libnet:configure"], // libnet DEPENDS virtual/cc -> gcc-lite
      ["libnet:install", "app:configure"], // app DEPENDS libnet
      ["gcc-lite:install", "app:compile"], // do_compile[depends] virtual/cc:do_populate_sysroot
      ["codegen:install", "app:compile"], // do_compile[depends] codegen:do_install
      ["app:patch", "app:lint"], // addtask lint after do_patch
      ["app:lint", "app:configure"], // ... before do_configure
      ["app:install", "app:report"], // JS task: addtask report after do_install
    ],
  },
  {
    name: "kiln app:do_lint: the custom task and what it needs",
    args: ["app:do_lint"],
    tasks: [...built("fetchtool"), ...appUpTo("lint")],
    order: [["app:patch", "app:lint"]],
  },
  {
    name: "kiln app -c lint is the same as app:do_lint",
    args: ["app", "-c", "lint"],
    tasks: [...built("fetchtool"), ...appUpTo("lint")],
  },
  {
    name: "kiln app -c compile: up to compile, not install or report",
    args: ["app", "-c", "compile"],
    tasks: [...APP_DEPS, ...appUpTo("compile")],
    order: [["codegen:install", "app:compile"]],
  },
  {
    name: "kiln app -c package: [rdeptask] follows RDEPENDS:${PN} (a PACKAGES name, an RPROVIDES name) and RRECOMMENDS",
    args: ["app", "-c", "package"],
    tasks: [
      ...APP_DEPS,
      ...appUpTo("install"),
      ...packaged("app", "libnet"),
      ...built("busybox-lite"),
      ...built("docs-extra"),
      ...packaged("busybox-lite", "docs-extra"),
    ],
    order: [
      ["libnet:package", "app:package"], // RDEPENDS libnet-utils, a package of libnet
      ["busybox-lite:package", "app:package"], // RDEPENDS virtual-sh, RPROVIDES of busybox-lite
      ["docs-extra:package", "app:package"], // RRECOMMENDS docs-extra
      ["app:install", "app:package"],
    ],
  },
  {
    name: "kiln image: do_rootfs[recrdeptask] = do_package of the image and every recipe it reaches",
    args: ["image"],
    tasks: [
      ...built("image"),
      "image:package",
      "image:rootfs",
      ...appUpTo("install"),
      ...[...APP_DEPS, ...built("busybox-lite"), ...built("docs-extra")],
      ...packaged("app", "libnet", "libbase", "gcc-lite", "codegen", "fetchtool", "busybox-lite", "docs-extra"),
    ],
    order: [
      ["app:package", "image:rootfs"], // Part A: image RDEPENDS app
      ["libbase:package", "image:rootfs"], // Part B: reached through app's tasks
      ["fetchtool:package", "image:rootfs"],
      ["busybox-lite:package", "image:rootfs"], // reached through app:do_package's [rdeptask]
      ["image:package", "image:rootfs"], // the image's own recipe
      ["image:install", "image:rootfs"],
    ],
  },
  {
    name: "kiln mirror -c fetchall: [recideptask] = do_build inspects do_build's graph without running it",
    args: ["mirror", "-c", "fetchall"],
    tasks: [...["mirror", "app", "libnet", "libbase", "gcc-lite", "codegen"].map((pn) => `${pn}:fetch`), ...built("fetchtool")],
    order: [["fetchtool:install", "app:fetch"]],
  },
  {
    name: "--runall=fetch: do_fetch of every recipe in app's graph, plus what those need",
    args: ["app", "--runall=fetch"],
    tasks: [...["app", "libnet", "libbase", "gcc-lite", "codegen"].map((pn) => `${pn}:fetch`), ...built("fetchtool")],
    order: [["fetchtool:install", "app:fetch"]],
  },
  {
    name: "--runall=package: the task even where the targets' graph did not have it",
    args: ["app", "--runall=package"],
    tasks: [
      ...APP_DEPS,
      ...appUpTo("install"),
      ...built("busybox-lite"),
      ...built("docs-extra"),
      ...packaged("app", "libnet", "libbase", "gcc-lite", "codegen", "fetchtool", "busybox-lite", "docs-extra"),
    ],
  },
  {
    name: "--runall repeats until no recipe is added (runqueue.py: `while added`)",
    // app:do_fetch's graph has app and fetchtool; their do_package reaches libnet,
    // libbase, gcc-lite, codegen, busybox-lite, docs-extra, whose do_package then
    // join on the next pass
    args: ["app", "-c", "fetch", "--runall=package"],
    tasks: [
      ...APP_DEPS,
      ...appUpTo("install"),
      ...built("busybox-lite"),
      ...built("docs-extra"),
      ...packaged("app", "libnet", "libbase", "gcc-lite", "codegen", "fetchtool", "busybox-lite", "docs-extra"),
    ],
  },
  {
    name: "--runonly=compile: only the do_compile tasks of image's graph, and what they need",
    args: ["image", "--runonly=compile"],
    tasks: [
      ...upTo("image", "compile"),
      ...appUpTo("compile"),
      ...upTo("busybox-lite", "compile"),
      ...upTo("docs-extra", "compile"),
      ...built("libnet"), // app:do_configure[deptask]
      ...built("libbase"),
      ...built("gcc-lite"), // app:do_compile[depends]
      ...built("codegen"),
      ...built("fetchtool"),
    ],
  },
  {
    name: "PREFERRED_PROVIDER_virtual/cc from the environment picks clang-lite instead",
    args: ["app", "-c", "compile"],
    env: { "PREFERRED_PROVIDER_virtual/cc": "clang-lite" },
    tasks: [...built("fetchtool"), ...built("libbase"), ...built("clang-lite"), ...built("libnet"), ...built("codegen"), ...appUpTo("compile")],
    order: [["clang-lite:install", "app:compile"]],
  },
  {
    name: "PREFERRED_RPROVIDER_virtual-sh picks the other RPROVIDES",
    args: ["app", "-c", "package"],
    env: { "PREFERRED_RPROVIDER_virtual-sh": "dash-lite" },
    tasks: [
      ...APP_DEPS,
      ...appUpTo("install"),
      ...packaged("app", "libnet"),
      ...built("dash-lite"),
      ...built("docs-extra"),
      ...packaged("dash-lite", "docs-extra"),
    ],
    order: [["dash-lite:package", "app:package"]],
  },
];

describe("what a build executes (the record the tasks write)", () => {
  it.each(BUILD_CASES)("$name", async ({ args, env, tasks, order }) => {
    const r = await kiln(args, fixtureEnv(env));
    expect(r.err).not.toMatch(/ERROR/);
    expect(r.code).toBe(0);
    const ran = executed();
    // each task ran once
    expect(ran.length, `ran twice: ${ran.filter((t, i) => ran.indexOf(t) !== i)}`).toBe(new Set(ran).size);
    // do_populate_sysroot is a real (shared state) task of the base class: it runs
    // wherever it is in the graph (which the -g tests check on their own)
    const { dot } = await graphOf(args, fixtureEnv(env));
    const sysroots = [...dot.nodes.keys()].filter((id) => id.endsWith(":do_populate_sysroot")).map((id) => id.replace(":do_", ":"));
    expect(sorted(ran)).toEqual(sorted(new Set([...tasks, ...sysroots])));
    for (const [a, b] of order ?? []) expectBefore(ran, a, b);
  });

  it("prefuncs, the body and postfuncs run in order; a JS task awaits and hands a value to its postfunc", async () => {
    const r = await kiln(["app"]);
    expect(r.code).toBe(0);
    expect(r.out + r.err).toContain("report for app 1.0"); // kiln.note from the JS task
    const lines = recordLines();
    // record_task is the first prefunc, then app_pre_compile, the body, app_post_compile
    expectBefore(lines, "app:compile", "# app:pre-compile");
    expectBefore(lines, "# app:pre-compile", "# app:compile-body");
    expectBefore(lines, "# app:compile-body", "# app:post-compile");
    expectBefore(lines, "# app:post-compile", "app:install");
    expectBefore(lines, "app:lint", "# app:lint-body");
    // do_report (js) awaited len("app") and set REPORT_SIZE for report_done (shell)
    expectBefore(lines, "app:report", "# app:report-size=3");
  });
});

// ---------------------------------------------------------------- world

// BitBake's world targets (providers.buildWorldTargetList): every recipe not
// EXCLUDE_FROM_WORLD, except those providing a virtual/ name or sharing a
// provided name with another PN; recipes come back in when something needs them.
const WORLD_TASKS = [
  ...built("fetchtool"), // EXCLUDE_FROM_WORLD, but app's do_fetch needs it
  ...built("libbase"),
  ...built("gcc-lite"), // provides virtual/cc, pulled in by libnet
  ...built("libnet"), // shares PROVIDES libnet with libnet-ng, pulled in by app
  ...built("codegen"),
  ...built("busybox-lite"),
  ...built("dash-lite"),
  ...built("docs-extra"),
  ...built("mirror"),
  ...appUpTo("install"),
  "app:report",
  ...built("image"),
  "image:rootfs",
  ...packaged("image", "app", "libnet", "libbase", "gcc-lite", "codegen", "fetchtool", "busybox-lite", "docs-extra"),
];

describe("kiln world", () => {
  it("builds every world recipe; EXCLUDE_FROM_WORLD only when pulled in as a dependency", async () => {
    const before = readdirSync(FIXTURE_BUILD, { recursive: true });
    const r = await kiln(["world"]);
    expect(r.code).toBe(0);
    // the build wrote nothing into the fixture (TMPDIR, DL_DIR, SSTATE_DIR are redirected)
    expect(readdirSync(FIXTURE_BUILD, { recursive: true })).toEqual(before);
    const ran = executed();
    expect(ran).not.toContain("experimental:fetch"); // EXCLUDE_FROM_WORLD, nothing needs it
    expect(ran).toContain("fetchtool:install"); // EXCLUDE_FROM_WORLD, app needs it
    // clang-lite and libnet-ng: see the next test
    const others = ran.filter((t) => !t.startsWith("clang-lite:") && !t.startsWith("libnet-ng:") && !t.endsWith(":populate_sysroot"));
    expect(sorted(others)).toEqual(sorted(WORLD_TASKS));
    // do_populate_sysroot (a real shared state task) ran for every recipe that built up to do_install
    for (const t of ran.filter((x) => x.endsWith(":install"))) expect(ran).toContain(t.replace(":install", ":populate_sysroot"));
    // the chosen version only: libbase 1.0's stamps, none of 2.0's
    const stamps = join(work, "tmp", "stamps", "x86_64-kiln-linux", "libbase");
    expect(hasStamp(join(stamps, "1.0-r0.do_compile"))).toBe(true);
    expect(hasStamp(join(stamps, "2.0-r0.do_compile"))).toBe(false);
    expectBefore(ran, "app:package", "image:rootfs");
  });

  it("skips recipes that provide a virtual/ name or share a provided name, unless needed (buildWorldTargetList)", async () => {
    const { buildlist } = await graphOf(["world"]);
    // clang-lite PROVIDES virtual/cc and nothing chooses it; libnet-ng PROVIDES libnet, which libnet also provides
    expect(buildlist).not.toContain("clang-lite");
    expect(buildlist).not.toContain("libnet-ng");
    expect(buildlist).toContain("gcc-lite");
    expect(buildlist).toContain("libnet");
  });

  it("world -c TASK skips recipes without that task", async () => {
    const { dot } = await graphOf(["world", "-c", "rootfs"]);
    expect(sorted([...dot.nodes.keys()].filter((id) => id.endsWith(":do_rootfs")))).toEqual(["image:do_rootfs"]);
  });
});

// ---------------------------------------------------------------- -g and -n

describe("-g: task-depends.dot and pn-buildlist", () => {
  it("app: one node per active task with version and file, one edge per dependency, and the recipes that take part", async () => {
    const { dot, buildlist, run } = await graphOf(["app"]);
    expect(run.out).toContain(join(work, "task-depends.dot"));
    expect(sorted(buildlist)).toEqual(sorted(["app", "libnet", "libbase", "gcc-lite", "codegen", "fetchtool"]));
    expect(sorted(pnsOf(dot))).toEqual(sorted(buildlist));
    expect(dot.nodes.get("app:do_compile")).toBe(`app do_compile\\n:1.0-r0\\n${join(FIXTURE, "recipes-core/app/app_1.0.bb")}`);
    expect(dot.nodes.get("libbase:do_fetch")).toBe(`libbase do_fetch\\n:1.0-r0\\n${join(FIXTURE, "recipes-core/libbase/libbase_1.0.bb")}`);
    // only active tasks: app's do_package is not needed by do_build
    expect(dot.nodes.has("app:do_package")).toBe(false);
    expect(dot.nodes.has("app:do_build")).toBe(true);

    // addtask after/before
    expect(depsOf(dot, "app:do_lint")).toEqual(["app:do_patch"]);
    expect(depsOf(dot, "app:do_build")).toEqual(["app:do_populate_sysroot", "app:do_report"]);
    // [depends]: several entries, one via virtual/cc
    expect(depsOf(dot, "app:do_compile")).toEqual(["app:do_configure", "codegen:do_install", "gcc-lite:do_populate_sysroot"]);
    expect(depsOf(dot, "app:do_fetch")).toEqual(["fetchtool:do_populate_sysroot"]);
    // [deptask] over DEPENDS (libbase, virtual/cc -> gcc-lite)
    expect(depsOf(dot, "libnet:do_configure")).toEqual(["gcc-lite:do_populate_sysroot", "libbase:do_populate_sysroot", "libnet:do_patch"]);
    expect(depsOf(dot, "app:do_configure")).toEqual(expect.arrayContaining(["app:do_lint", "app:do_patch", "libnet:do_populate_sysroot"]));
    // noexec placeholders are in the graph
    expect(depsOf(dot, "gcc-lite:do_populate_sysroot")).toEqual(["gcc-lite:do_install"]);
  });

  it("[deptask] covers DEPENDS only, not recipes named in a task's [depends] (taskdata depids = DEPENDS)", async () => {
    const { dot } = await graphOf(["app"]);
    // app DEPENDS = "libnet"; codegen, gcc-lite and fetchtool are only in [depends] flags
    expect(depsOf(dot, "app:do_configure")).toEqual(["app:do_lint", "app:do_patch", "libnet:do_populate_sysroot"]);
    expect(dot.nodes.has("codegen:do_populate_sysroot")).toBe(false);
  });

  it("[depends] between two recipes' unrelated tasks is not a dependency loop", async () => {
    // BitBake: ca:do_x -> cb:do_fetch and cb:do_y -> ca:do_fetch, nothing more
    const { build, env } = tempLayer({
      "recipes/ca_1.0.bb": `do_x() {\n\t:\n}\naddtask x after do_compile\ndo_x[depends] = "cb:do_fetch"\n`,
      "recipes/cb_1.0.bb": `do_y() {\n\t:\n}\naddtask y after do_compile\ndo_y[depends] = "ca:do_fetch"\n`,
    });
    const r = await kiln(["-n", "ca:do_x", "cb:do_y"], env, build);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const g = await coreGraph(build, env, ["ca:do_x", "cb:do_y"]);
    expect(graphDeps(g, "ca:do_x")).toEqual(["ca:do_compile", "cb:do_fetch"]);
    expect(graphDeps(g, "ca:do_configure")).toEqual(["ca:do_patch"]);
  });

  it("[rdeptask], [recrdeptask] and [recideptask] edges", async () => {
    const image = await graphOf(["image", "-c", "rootfs"]);
    expect(depsOf(image.dot, "app:do_package")).toEqual(["app:do_install", "busybox-lite:do_package", "docs-extra:do_package", "libnet:do_package"]);
    expect(depsOf(image.dot, "image:do_rootfs")).toEqual(
      sorted(["image:do_install", ...["image", "app", "libnet", "libbase", "gcc-lite", "codegen", "fetchtool", "busybox-lite", "docs-extra"].map((pn) => `${pn}:do_package`)]),
    );
    expect(pnsOf(image.dot).has("dash-lite")).toBe(false);

    const mirror = await graphOf(["mirror", "-c", "fetchall"]);
    expect(depsOf(mirror.dot, "mirror:do_fetchall")).toEqual(
      sorted(["mirror", "app", "libnet", "libbase", "gcc-lite", "codegen", "fetchtool"].map((pn) => `${pn}:do_fetch`)),
    );
    // recideptask inspects do_build but the task does not wait for it
    expect(mirror.dot.nodes.has("mirror:do_build")).toBe(false);
  });

  it("a label's version is PE:PV-PR, as BitBake writes it", async () => {
    const { build, env } = tempLayer({ "recipes/epoch_1.0.bb": `PE = "2"\n`, "recipes/plain_3.1.bb": "" });
    const r = await kiln(["-g", "epoch", "plain"], env, build);
    expect(r.code).toBe(0);
    const dot = parseDot(readFileSync(join(build, "task-depends.dot"), "utf8"));
    expect(dot.nodes.get("plain:do_build")).toContain("\\n:3.1-r0\\n");
    expect(dot.nodes.get("epoch:do_build")).toContain("\\n2:1.0-r0\\n");
  });

  it("-g runs nothing", async () => {
    await graphOf(["world"]);
    expect(recordLines()).toEqual([]);
    expect(existsSync(join(work, "tmp", "stamps"))).toBe(false);
  });
});

describe("-n: dry run", () => {
  it("lists every task of the graph in dependency order and runs nothing", async () => {
    const r = await kiln(["-n", "app"]);
    expect(r.code).toBe(0);
    const listed = [...r.out.matchAll(/^NOTE: Running task (\d+) of (\d+): (\S+) \(dry run\)$/gm)];
    expect(listed.map((m) => Number(m[1]))).toEqual(listed.map((_, i) => i + 1));
    expect(new Set(listed.map((m) => m[2]))).toEqual(new Set([String(listed.length)]));
    expect(recordLines()).toEqual([]);
    expect(existsSync(join(work, "tmp", "stamps"))).toBe(false);

    const { dot } = await graphOf(["app"]);
    const ids = listed.map((m) => m[3]);
    expect(sorted(ids)).toEqual(sorted(dot.nodes.keys()));
    for (const [id, ds] of dot.deps) for (const d of ds) expect(ids.indexOf(d), `${d} before ${id}`).toBeLessThan(ids.indexOf(id));
  });

  it("after a build, -n lists nothing (do_build is noexec, stamped as in OpenEmbedded)", async () => {
    expect((await kiln(["app"])).code).toBe(0);
    const r = await kiln(["-n", "app"]);
    expect([...r.out.matchAll(/: (\S+) \(dry run\)$/gm)].map((m) => m[1])).toEqual([]);
    expect(r.out).toMatch(/0 would run/);
  });
});

// ---------------------------------------------------------------- providers

interface ProviderCase {
  name: string;
  args: string[];
  env?: Record<string, string>;
  /** Recipes (PN) whose tasks must be in the graph / must not be. */
  present: string[];
  absent: string[];
  /** node id -> expected `:version` part of its label */
  version?: [string, string];
}

const PROVIDER_CASES: ProviderCase[] = [
  { name: "PREFERRED_PROVIDER_virtual/cc = gcc-lite", args: ["libnet"], present: ["gcc-lite"], absent: ["clang-lite"] },
  { name: "a virtual/ name as the target", args: ["virtual/cc"], present: ["gcc-lite"], absent: ["clang-lite", "libnet"] },
  {
    name: "PREFERRED_PROVIDER from the environment",
    args: ["virtual/cc"],
    env: { "PREFERRED_PROVIDER_virtual/cc": "clang-lite" },
    present: ["clang-lite"],
    absent: ["gcc-lite"],
  },
  {
    name: "without a preference the recipe whose PN is the name wins (libnet over libnet-ng)",
    args: ["libnet"],
    present: ["libnet"],
    absent: ["libnet-ng"],
  },
  {
    name: "PREFERRED_PROVIDER_libnet = libnet-ng overrides the PN match",
    args: ["libnet"],
    env: { PREFERRED_PROVIDER_libnet: "libnet-ng" },
    present: ["libnet-ng"],
    absent: ["libnet", "libbase"],
  },
  {
    name: "PREFERRED_VERSION_libbase = 1.% picks 1.0 over 2.0",
    args: ["libbase"],
    present: ["libbase"],
    absent: [],
    version: ["libbase:do_build", ":1.0-r0"],
  },
  {
    name: "PREFERRED_VERSION_libbase = 2.0",
    args: ["libbase"],
    env: { PREFERRED_VERSION_libbase: "2.0" },
    present: ["libbase"],
    absent: [],
    version: ["libbase:do_build", ":2.0-r0"],
  },
  {
    name: "an empty PREFERRED_VERSION: the highest version",
    args: ["libbase"],
    env: { PREFERRED_VERSION_libbase: "" },
    present: ["libbase"],
    absent: [],
    version: ["libbase:do_build", ":2.0-r0"],
  },
  {
    name: "runtime: PREFERRED_RPROVIDER_virtual-sh = busybox-lite",
    args: ["app", "-c", "package"],
    present: ["busybox-lite", "libnet", "docs-extra"],
    absent: ["dash-lite"],
  },
];

describe("providers", () => {
  it.each(PROVIDER_CASES)("$name", async ({ args, env, present, absent, version }) => {
    const { dot, buildlist } = await graphOf(args, fixtureEnv(env));
    const pns = pnsOf(dot);
    for (const pn of present) expect(pns.has(pn), `${pn} should be in the graph`).toBe(true);
    for (const pn of absent) expect(pns.has(pn), `${pn} should not be in the graph`).toBe(false);
    expect(sorted(buildlist)).toEqual(sorted(pns));
    if (version) expect(dot.nodes.get(version[0])).toContain(`\\n${version[1]}\\n`);
  });

  it("the chosen version's file is the one built", async () => {
    const { dot } = await graphOf(["libbase"], fixtureEnv({ PREFERRED_VERSION_libbase: "2.%" }));
    expect(dot.nodes.get("libbase:do_compile")).toMatch(/libbase_2\.0\.bb$/);
  });
});

// ---------------------------------------------------------------- [recrdeptask] corner cases

describe("[recrdeptask] as runqueue.py defines it", () => {
  const chainRecipes = {
    "recipes/a_1.0.bb": `DEPENDS = "b"\nRDEPENDS:\${PN} = "d"\n`,
    "recipes/b_1.0.bb": `DEPENDS = "c"\nRDEPENDS:\${PN} = "e"\n`,
    "recipes/c_1.0.bb": "",
    "recipes/d_1.0.bb": "",
    "recipes/e_1.0.bb": "",
  };

  it("do_build[recrdeptask] = do_build in every recipe: no do_build waits for another do_build", async () => {
    const { build, env } = tempLayer(
      { ...chainRecipes, "classes/recbuild.bbclass": `do_build[recrdeptask] = "do_build"\n` },
      `INHERIT += "recbuild"\n`,
    );
    const g = await coreGraph(build, env, ["a", "b"]);
    expect(graphDeps(g, "a:do_build")).toEqual(["a:do_populate_sysroot"]);
    expect(graphDeps(g, "b:do_build")).toEqual(["b:do_populate_sysroot"]);
  });

  it("do_build[recrdeptask] = do_build in one recipe: it waits for do_build of DEPENDS, RDEPENDS and what their tasks reach", async () => {
    const { build, env } = tempLayer({ ...chainRecipes, "recipes/a_1.0.bb": `${chainRecipes["recipes/a_1.0.bb"]}do_build[recrdeptask] = "do_build"\n` });
    const g = await coreGraph(build, env, ["a"]);
    // b (DEPENDS), d (RDEPENDS): Part A; c: reached through b's tasks (Part B);
    // e is only b's runtime dependency and no task edge leads there
    expect(graphDeps(g, "a:do_build")).toEqual(["a:do_populate_sysroot", "b:do_build", "c:do_build", "d:do_build"]);
  });

  it("Part A covers the recipe's DEPENDS and RDEPENDS; Part B only what the task graph reaches", async () => {
    const { build, env } = tempLayer({
      ...chainRecipes,
      "recipes/a_1.0.bb": `${chainRecipes["recipes/a_1.0.bb"]}do_srcs() {\n\t:\n}\naddtask srcs after do_install\ndo_srcs[recrdeptask] = "do_fetch"\n`,
    });
    const g = await coreGraph(build, env, ["a"], { cmd: "srcs" });
    expect(graphDeps(g, "a:do_srcs")).toEqual(["a:do_fetch", "a:do_install", "b:do_fetch", "c:do_fetch", "d:do_fetch"]);
  });

  it("a task naming a self-referencing recursive task still depends on it (only self-referencing tasks drop each other)", async () => {
    const { build, env } = tempLayer(
      {
        ...chainRecipes,
        "classes/recbuild.bbclass": `do_build[recrdeptask] = "do_build"\n`,
        "recipes/a_1.0.bb": `${chainRecipes["recipes/a_1.0.bb"]}do_collect() {\n\t:\n}\naddtask collect after do_install\ndo_collect[recrdeptask] = "do_build"\n`,
      },
      `INHERIT += "recbuild"\n`,
    );
    const g = await coreGraph(build, env, ["a"], { cmd: "collect" });
    // runqueue.py removes recursivetasksselfref only from the depends of tasks in recursivetasksselfref
    expect(graphDeps(g, "a:do_collect")).toEqual(expect.arrayContaining(["b:do_build", "c:do_build", "d:do_build"]));
  });
});

// ---------------------------------------------------------------- errors

interface ErrorCase {
  name: string;
  files: Record<string, string>;
  targets: string[];
  /** extra CLI arguments */
  args?: string[];
  exit: number;
  code: string;
  message: RegExp;
}

const ERROR_CASES: ErrorCase[] = [
  {
    name: "Nothing PROVIDES, naming the chain from the target",
    files: { "recipes/top_1.0.bb": `DEPENDS = "mid"\n`, "recipes/mid_1.0.bb": `DEPENDS = "low"\n`, "recipes/low_1.0.bb": `DEPENDS = "missing"\n` },
    targets: ["top"],
    exit: 2,
    code: "DEPENDENCY_ERROR",
    message: /Nothing PROVIDES 'missing' \(needed by top -> mid -> low\)/,
  },
  {
    name: "Nothing PROVIDES a name in a task's [depends]",
    files: { "recipes/top_1.0.bb": `do_compile[depends] = "ghost:do_populate_sysroot"\n` },
    targets: ["top"],
    exit: 2,
    code: "DEPENDENCY_ERROR",
    message: /Nothing PROVIDES 'ghost' \(needed by top\)/,
  },
  {
    name: "Nothing RPROVIDES, naming the chain",
    files: { "recipes/top_1.0.bb": `DEPENDS = "mid"\n`, "recipes/mid_1.0.bb": `RDEPENDS:\${PN} = "no-such-pkg"\n` },
    targets: ["top"],
    exit: 2,
    code: "DEPENDENCY_ERROR",
    message: /Nothing RPROVIDES 'no-such-pkg' \(needed by top -> mid\)/,
  },
  {
    name: "an RRECOMMENDS nothing provides fails the recipe too (taskdata rdepids include RRECOMMENDS)",
    files: { "recipes/top_1.0.bb": `RRECOMMENDS:\${PN} = "no-such-pkg"\n` },
    targets: ["top"],
    exit: 2,
    code: "DEPENDENCY_ERROR",
    message: /Nothing RPROVIDES 'no-such-pkg'/,
  },
  {
    name: "two providers and no preference: an error naming both",
    files: {
      "recipes/top_1.0.bb": `DEPENDS = "virtual/db"\n`,
      "recipes/db-one_1.0.bb": `PROVIDES = "virtual/db"\n`,
      "recipes/db-two_1.0.bb": `PROVIDES = "virtual/db"\n`,
    },
    targets: ["top"],
    exit: 2,
    code: "DEPENDENCY_ERROR",
    message: /Multiple providers are available for 'virtual\/db' \((db-one, db-two|db-two, db-one)\) \(needed by top\)/,
  },
  {
    name: "two runtime providers and no preference",
    files: {
      "recipes/top_1.0.bb": `RDEPENDS:\${PN} = "sh"\n`,
      "recipes/sh-one_1.0.bb": `RPROVIDES:\${PN} = "sh"\n`,
      "recipes/sh-two_1.0.bb": `RPROVIDES:\${PN} = "sh"\n`,
    },
    targets: ["top"],
    exit: 2,
    code: "DEPENDENCY_ERROR",
    message: /Multiple providers are available for 'sh' \((sh-one, sh-two|sh-two, sh-one)\)/,
  },
  {
    name: "a [depends] on a task that does not exist",
    files: { "recipes/top_1.0.bb": `do_compile[depends] = "low:do_nosuch"\n`, "recipes/low_1.0.bb": "" },
    targets: ["top"],
    exit: 2,
    code: "DEPENDENCY_ERROR",
    message: /Task do_compile in \S+top_1\.0\.bb depends upon non-existent task do_nosuch in \S+low_1\.0\.bb/,
  },
  {
    name: "a [depends] entry without a task",
    files: { "recipes/top_1.0.bb": `do_compile[depends] = "low"\n`, "recipes/low_1.0.bb": "" },
    targets: ["top"],
    exit: 2,
    code: "DEPENDENCY_ERROR",
    message: /top:do_compile\[depends\] entry 'low' is not of the form recipe:do_task/,
  },
  {
    name: "an unknown target",
    files: { "recipes/top_1.0.bb": "" },
    targets: ["nosuch"],
    exit: 2,
    code: "DEPENDENCY_ERROR",
    message: /Nothing PROVIDES 'nosuch'/,
  },
  {
    name: "a package name as the target points at its recipe",
    files: { "recipes/top_1.0.bb": `PACKAGES = "\${PN} top-utils"\n` },
    targets: ["top-utils"],
    exit: 2,
    code: "DEPENDENCY_ERROR",
    message: /Nothing PROVIDES 'top-utils'.*top RPROVIDES 'top-utils'/,
  },
  {
    name: "a task the target does not have",
    files: { "recipes/top_1.0.bb": "" },
    targets: ["top:do_nosuch"],
    exit: 2,
    code: "DEPENDENCY_ERROR",
    message: /Task do_nosuch does not exist for target top/,
  },
  {
    name: "--runonly of a task not in the targets' graph",
    files: { "recipes/top_1.0.bb": `do_extra() {\n\t:\n}\naddtask extra after do_install\n` },
    targets: ["top"],
    args: ["--runonly=extra"],
    exit: 2,
    code: "DEPENDENCY_ERROR",
    message: /Could not find any tasks with the tasknames do_extra/,
  },
];

describe("dependency errors", () => {
  it.each(ERROR_CASES)("$name", async ({ files, targets, args = [], exit, code, message }) => {
    const { build, env } = tempLayer(files);
    const r = await kiln(["-n", ...targets, ...args], env, build);
    expect(r.err).toMatch(message);
    expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
    expect(r.code).toBe(exit);
    expect(r.out).not.toMatch(/Running task/);
    clearFileCache();
    const runonly = args.filter((a) => a.startsWith("--runonly=")).map((a) => a.slice("--runonly=".length));
    const api = new Kiln({ cwd: build, env }).taskGraph({ targets, ...(runonly.length ? { runonly } : {}) });
    await expect(api).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
  });

  it("PREFERRED_VERSION nobody has: a warning naming the versions there are, the highest built; REQUIRED_VERSION wins, and missing is an error", async () => {
    const files = { "recipes/v_1.2.3.bb": "", "recipes/v_1.10.bb": "", "recipes/v_2.0.bb": "", "recipes/solo_1.0.bb": "" };
    let { build, env } = tempLayer(files, `PREFERRED_VERSION_v = "3.0"\nPREFERRED_VERSION_solo = "9"\n`);
    const warned = await kiln(["-n", "v", "solo"], env, build);
    expect(warned.code, warned.err).toBe(0);
    expect(warned.err).toContain("WARNING: preferred version 3.0 of v not available\nWARNING: versions of v available: 1.10 1.2.3 2.0\n");
    // one recipe alone is checked too
    expect(warned.err).toContain("WARNING: preferred version 9 of solo not available\n");
    expect(warned.out).toMatch(/v:do_build/);
    ({ build, env } = tempLayer(files, `PREFERRED_VERSION_v = "2.0"\nREQUIRED_VERSION_v = "1.10"\n`));
    const required = await kiln(["getvar", "PV", "-r", "v", "--value"], env, build);
    expect(required.out.trim()).toBe("1.10");
    const both = await kiln(["-n", "v"], env, build);
    expect(both.err).toContain("WARNING: REQUIRED_VERSION and PREFERRED_VERSION for package v are both set using REQUIRED_VERSION 1.10");
    ({ build, env } = tempLayer(files, `REQUIRED_VERSION_v = "9.9"\n`));
    const missing = await kiln(["-n", "v"], env, build);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/Nothing PROVIDES 'v'; v was skipped: required version 9\.9 of v not available \(versions of v available: 1\.10 1\.2\.3 2\.0\)/);
  });

  it("two recipes due to be built that provide one name: BitBake's error, the build still runs; BB_MULTI_PROVIDER_ALLOWED lets it be", async () => {
    const files = {
      "recipes/top_1.0.bb": `DEPENDS = "virtual/db db-one"\n`,
      "recipes/db-one_1.0.bb": `PROVIDES = "virtual/db"\n`,
      "recipes/db-two_1.0.bb": `PROVIDES = "virtual/db"\n`,
    };
    let { build, env } = tempLayer(files, `PREFERRED_PROVIDER_virtual/db = "db-two"\n`);
    const r = await kiln(["-n", "top"], env, build);
    expect(r.code).toBe(1);
    const listed = /ERROR: Multiple \.bb files are due to be built which each provide virtual\/db:\n((?: {2}\S+\n)+)/.exec(r.err);
    expect(listed, r.err).not.toBeNull();
    expect((listed as RegExpExecArray)[1].trim().split(/\s+/).map((f) => f.split("/").pop()).sort()).toEqual(["db-one_1.0.bb", "db-two_1.0.bb"]);
    expect(r.out).toMatch(/top:do_build/); // the plan is still made
    ({ build, env } = tempLayer(files, `PREFERRED_PROVIDER_virtual/db = "db-two"\nBB_MULTI_PROVIDER_ALLOWED = "virtual/db"\n`));
    const allowed = await kiln(["-n", "top"], env, build);
    expect(allowed.code, allowed.err).toBe(0);
    expect(allowed.err).not.toMatch(/Multiple \.bb files/);
  });

  it("a cycle is an error listing its tasks in dependency order", async () => {
    // do_x -> do_z ([depends] on its own recipe), do_z -> do_y -> do_x (addtask after)
    const { build, env } = tempLayer({
      "recipes/ca_1.0.bb": `do_x() {\n\t:\n}\ndo_y() {\n\t:\n}\ndo_z() {\n\t:\n}\naddtask x\naddtask y after do_x\naddtask z after do_y\ndo_x[depends] = "ca:do_z"\n`,
    });
    const r = await kiln(["-n", "ca", "-c", "x"], env, build);
    expect(r.code).toBe(2);
    const loop = /Dependency loop in the task graph: (.*)/.exec(r.err);
    expect(loop, r.err).not.toBeNull();
    const listed = (loop as RegExpExecArray)[1].split(" -> ");
    // closed (first repeated last) and in dependency order, from whichever task it starts at
    expect(listed.at(-1)).toBe(listed[0]);
    const ring = ["ca:do_x", "ca:do_z", "ca:do_y"];
    const start = ring.indexOf(listed[0]);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(listed).toEqual([...ring.slice(start), ...ring.slice(0, start), ring[start]]);

    clearFileCache();
    const err = await new Kiln({ cwd: build, env }).taskGraph({ targets: ["ca"], cmd: "x" }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "DEPENDENCY_CYCLE" });
    expect((err as { cycle: string[] }).cycle).toEqual(listed);
  });

  it("a cycle of recipes through DEPENDS", async () => {
    const { build, env } = tempLayer({
      "recipes/ca_1.0.bb": `DEPENDS = "cb"\n`,
      "recipes/cb_1.0.bb": `DEPENDS = "cc"\n`,
      "recipes/cc_1.0.bb": `DEPENDS = "ca"\n`,
    });
    const r = await kiln(["-n", "ca"], env, build);
    expect(r.code).toBe(2);
    const loop = /Dependency loop in the task graph: (.*)/.exec(r.err);
    expect(loop, r.err).not.toBeNull();
    const listed = (loop as RegExpExecArray)[1].split(" -> ");
    expect(listed.at(-1)).toBe(listed[0]);
    // every recipe's do_configure waits (deptask) for the next one's do_populate_sysroot
    for (const [a, b] of [["ca", "cb"], ["cb", "cc"], ["cc", "ca"]]) {
      const i = listed.indexOf(`${a}:do_configure`);
      expect(i, `${a}:do_configure in ${listed.join(" -> ")}`).toBeGreaterThanOrEqual(0);
      expect(listed[i + 1]).toBe(`${b}:do_populate_sysroot`);
    }
  });

  it("a cycle through the same recipe's after/before", async () => {
    const { build, env } = tempLayer({
      "recipes/top_1.0.bb": `do_one() {\n\t:\n}\ndo_two() {\n\t:\n}\naddtask one after do_two\naddtask two after do_one before do_build\n`,
    });
    const r = await kiln(["-n", "top"], env, build);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/Dependency loop in the task graph: top:do_(one|two) -> top:do_(two|one) -> top:do_\1/);
  });

  it("world leaves out a recipe whose dependencies cannot be resolved, with a warning", async () => {
    const { build, env } = tempLayer({ "recipes/good_1.0.bb": "", "recipes/bad_1.0.bb": `DEPENDS = "missing"\n` });
    const r = await kiln(["-g", "world"], env, build);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/WARNING: Not building bad \(world\): Nothing PROVIDES 'missing'/);
    expect(readFileSync(join(build, "pn-buildlist"), "utf8")).toBe("good\n");
  });
});
