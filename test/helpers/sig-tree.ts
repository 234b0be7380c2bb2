/**
 * The layer the signature tests (issue #4) build: recipes u (unrelated), b, a
 * (DEPENDS b, a local `file://x.patch` found on FILESPATH, shell helpers, a JS task)
 * and c (DEPENDS a), plus n (a nostamp task in a chain). Every task that runs a
 * body records `PN:task` in ${RECORD} (a prefunc from the `rec` class, or its own
 * body), so tests see what ran from the tasks themselves, not from kiln's report.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { expect } from "vitest";
import { clearFileCache } from "@kiln/core";
import { main } from "@kiln/cli";
import { buildTree, ENV, type BuildTree, type CliResult } from "./build-tree.js";

export const REC_CLASS = [
  `record_task() {`,
  `\techo "\${PN}:\${BB_CURRENTTASK}" >> \${RECORD}`,
  `}`,
  ...["fetch", "unpack", "patch", "configure", "compile", "install"].map((t) => `do_${t}[prefuncs] += "record_task"`),
  ``,
].join("\n");

export const B_RECIPE = [
  `B_OPT = "b-one"`,
  `do_install() {`,
  `\techo "installing with \${B_OPT}"`,
  `}`,
  ``,
].join("\n");

export const A_RECIPE = [
  `DEPENDS = "b"`,
  `SRC_URI = "file://x.patch;apply=no"`,
  `A_CFLAGS = "-O2"`,
  `A_EXCL = "excluded-1"`,
  `MYVAR = "ignored-1"`,
  `PINNED = "pin-1"`,
  `PINNED[vardepvalue] = "pinned"`,
  `Y_EXTRA = "y-1"`,
  `JS_VAR = "js-1"`,
  `check_tool() {`,
  `\ttrue`,
  `}`,
  `gen_list() {`,
  `\techo one`,
  `}`,
  `get_ver() {`,
  `\techo 1.0`,
  `}`,
  `sub_helper() {`,
  `\t:`,
  `}`,
  `uncalled_fn() {`,
  `\techo never`,
  `}`,
  `do_compile() {`,
  `\tif check_tool; then`,
  `\t\techo "cflags \${A_CFLAGS}"`,
  `\tfi`,
  `\tgen_list | sort`,
  `\tver=$(get_ver)`,
  `\t( sub_helper )`,
  `\techo "\${A_EXCL} \${MYVAR} \${PINNED} $ver"`,
  `}`,
  `do_compile[vardepsexclude] = "A_EXCL"`,
  `do_compile[vardeps] += "Y_EXTRA"`,
  `js do_report () {`,
  `    kiln.note("report " + d.getVar("JS_VAR"))`,
  `}`,
  `do_report[prefuncs] += "record_task"`,
  `addtask report after do_compile before do_install`,
  ``,
].join("\n");

export const C_RECIPE = `DEPENDS = "a"\n`;
export const U_RECIPE = `U_VAR = "u"\n`;

export const N_RECIPE = [
  ...["one", "two", "three", "four"].map((t) => `do_${t}() {\n\techo "\${PN}:\${BB_CURRENTTASK}" >> \${RECORD}\n}`),
  `addtask one`,
  `addtask two after do_one`,
  `do_two[nostamp] = "1"`,
  `addtask three after do_two`,
  `addtask four after do_three`,
  ``,
].join("\n");

export const PATCH = "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n";

/** The targets of a full build of the main graph. */
export const TARGETS = ["c", "u"];

export interface SigTree extends BuildTree {
  /** `kiln ARGS`, failing the test (with the output) unless it exits 0. */
  ok(args: string[]): Promise<CliResult>;
  /** Run a build with an empty record; the record lines (`PN:task`) it left, sorted. */
  run(args?: string[]): Promise<string[]>;
  /** Replace `from` (which must occur exactly once) with `to` in a file under the root. */
  edit(rel: string, from: string, to: string): void;
  /** ${STAMP} of a recipe (cached). */
  stamp(pn: string): Promise<string>;
  /** task -> taskhash from the stamp names of a recipe (`${STAMP}.do_x.<hash>`). */
  stampHashes(pn: string): Promise<Record<string, string>>;
  /** Siginfo files of a recipe's stamp directory. */
  siginfos(pn: string): Promise<string[]>;
  /** A copy of the whole tree at another path (same relative layout). */
  copyTo(root: string): SigTree;
  /** The whole tree renamed to another path (this object is useless afterwards). */
  moveTo(root: string): SigTree;
}

function wrap(tree: BuildTree): SigTree {
  const stamps = new Map<string, string>();
  const t = tree as SigTree;
  t.ok = async (args) => {
    const r = await tree.kiln(args);
    expect(r.code, `kiln ${args.join(" ")}:\n${r.all}`).toBe(0);
    return r;
  };
  t.run = async (args = TARGETS) => {
    rmSync(tree.path("record"), { force: true });
    await t.ok(args);
    return tree.lines("record").sort();
  };
  t.edit = (rel, from, to) => {
    const p = join(tree.root, rel);
    const text = readFileSync(p, "utf8");
    const at = text.indexOf(from);
    if (at < 0 || text.indexOf(from, at + 1) >= 0) throw new Error(`'${from}' does not occur exactly once in ${rel}`);
    writeFileSync(p, text.slice(0, at) + to + text.slice(at + from.length));
  };
  t.stamp = async (pn) => {
    let s = stamps.get(pn);
    if (!s) {
      s = await tree.getvar("STAMP", pn);
      stamps.set(pn, s);
    }
    return s;
  };
  t.stampHashes = async (pn) => {
    const s = await t.stamp(pn);
    const dir = dirname(s);
    const out: Record<string, string> = {};
    if (!existsSync(dir)) return out;
    for (const f of readdirSync(dir)) {
      const m = new RegExp(`^${basename(s).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.(do_[a-z_]+)\\.([0-9a-f]{64})$`).exec(f);
      if (m) {
        if (m[1] in out) throw new Error(`two stamps for ${pn}:${m[1]}`);
        out[m[1]] = m[2];
      }
    }
    return out;
  };
  t.siginfos = async (pn) => {
    const s = await t.stamp(pn);
    const dir = dirname(s);
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => f.startsWith(`${basename(s)}.`) && /\.sigdata\.[0-9a-f]{64}$/.test(f))
      .map((f) => join(dir, f));
  };
  t.copyTo = (root) => {
    cpSync(tree.root, root, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    return wrap(treeAt(root));
  };
  t.moveTo = (root) => {
    renameSync(tree.root, root);
    return wrap(treeAt(root));
  };
  return t;
}

/** A BuildTree for an existing tree at `root` (a copy of one buildTree made), as build-tree.ts's. */
function treeAt(root: string): BuildTree {
  const build = join(root, "build");
  const write = (rel: string, text: string) => {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
    return p;
  };
  const tree: BuildTree = {
    root,
    build,
    path: (rel) => join(build, rel),
    write,
    recipe: (file, text) => write(`meta-t/recipes/${file}`, text),
    read: (rel) => readFileSync(join(build, rel), "utf8"),
    exists: (rel) => existsSync(join(build, rel)),
    lines(rel) {
      const p = join(build, rel);
      return existsSync(p) ? readFileSync(p, "utf8").split("\n").filter(Boolean) : [];
    },
    async kiln(args) {
      clearFileCache();
      let out = "";
      let err = "";
      let all = "";
      const code = await main(args, {
        cwd: build,
        env: { ...ENV, PWD: build },
        io: {
          out: (t) => {
            out += t;
            all += t;
          },
          err: (t) => {
            err += t;
            all += t;
          },
        },
      });
      return { code, out, err, all };
    },
    async getvar(name, recipe) {
      const r = await tree.kiln(["getvar", name, "-r", recipe, "--value"]);
      if (r.code !== 0) throw new Error(`getvar ${name} -r ${recipe} failed: ${r.err}`);
      return r.out.trimEnd();
    },
    remove() {
      if (!process.env.KILN_KEEP_TMP) rmSync(root, { recursive: true, force: true });
    },
  };
  return tree;
}

export interface SigTreeOptions {
  local?: string;
  /** Replace recipes (file name -> text). */
  recipes?: Record<string, string>;
}

export function sigTree(options: SigTreeOptions = {}): SigTree {
  const tree = buildTree({
    local: `INHERIT += "rec"\nBB_BASEHASH_IGNORE_VARS += "MYVAR"\nBB_NUMBER_THREADS = "4"\n${options.local ?? ""}`,
    files: {
      "meta-t/classes/rec.bbclass": REC_CLASS,
      "meta-t/recipes/files/x.patch": PATCH,
    },
  });
  const recipes = { "a_1.0.bb": A_RECIPE, "b_1.0.bb": B_RECIPE, "c_1.0.bb": C_RECIPE, "u_1.0.bb": U_RECIPE, "n_1.0.bb": N_RECIPE, ...options.recipes };
  for (const [f, text] of Object.entries(recipes)) tree.recipe(f, text);
  return wrap(tree);
}
