/** Plugins named by KILN_PLUGINS: loading, applying, attribution of their failures. */
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { clearFileCache, HookError, Kiln, KilnError, type TaskFailedEvent } from "../src/index.js";
import { twoLayerBuild, type TempTree } from "./helpers.js";

let tree: TempTree;
afterEach(() => tree?.remove());

const PLUGIN = (name: string, body = "") => `export default {
  name: ${JSON.stringify(name)},
  apply(kiln) {
    kiln.hooks.taskFunction.for("do_hello").tapPromise(${JSON.stringify(name)}, async (task, d, ctx) => {
      ctx.log("hello from the plugin");
      process.getBuiltinModule("node:fs").writeFileSync(d.getVar("TOPDIR") + "/plugin-ran", task.id);
      return true;
    });
    ${body}
  },
};
`;

function build(extraLocal: string, files: Record<string, string>): TempTree {
  tree = twoLayerBuild({
    "meta-a/recipes/r_1.0.bb": `do_hello() {\n\techo "metadata body" > \${TOPDIR}/metadata-ran\n}\naddtask hello\njs do_ask () {\n    process.getBuiltinModule("node:fs").writeFileSync(d.getVar("TOPDIR") + "/asked", kiln.plugin("kiln:test").name)\n}\naddtask ask\n`,
    ...files,
  });
  tree.write("build/conf/local.conf", `MACHINE = "m1"\nDISTRO = "d1"\n${extraLocal}\n`);
  clearFileCache();
  return tree;
}

async function run(target: string, options: ConstructorParameters<typeof Kiln>[0] = {}) {
  const kiln = new Kiln({ cwd: tree.path("build"), env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/root" }, ...options });
  const failed: TaskFailedEvent[] = [];
  kiln.hooks.taskFailed.tap("test", (e) => void failed.push(e));
  const graph = await kiln.taskGraph({ targets: [target] });
  const done = await kiln.build(graph, { threads: 1 });
  return { kiln, done, failed };
}

describe("KILN_PLUGINS", () => {
  it("loads a plugin from a path (relative to TOPDIR), applies it, and its task body replaces the metadata one", async () => {
    build(`KILN_PLUGINS = "../plugin.mjs"`, { "plugin.mjs": PLUGIN("kiln:test") });
    const { kiln, done } = await run("r:do_hello");
    expect(done.failed).toBe(0);
    expect(readFileSync(tree.path("build/plugin-ran"), "utf8")).toBe("r:do_hello");
    expect(() => readFileSync(tree.path("build/metadata-ran"))).toThrow();
    expect([...kiln.plugins.keys()]).toEqual(["kiln:test"]);
  });

  it("gives metadata JavaScript the plugin through kiln.plugin(name)", async () => {
    build(`KILN_PLUGINS = "../plugin.mjs"`, { "plugin.mjs": PLUGIN("kiln:test") });
    const { done } = await run("r:do_ask");
    expect(done.failed).toBe(0);
    expect(readFileSync(tree.path("build/asked"), "utf8")).toBe("kiln:test");
  });

  it("imports package names through the host's importer", async () => {
    build(`KILN_PLUGINS = "@acme/kiln-hello"`, {});
    const asked: string[] = [];
    const plugin = { name: "acme:hello", apply: () => undefined };
    const { kiln } = await run("r:do_hello", {
      importPlugin: async (spec) => {
        asked.push(spec);
        return { default: plugin };
      },
    });
    expect(asked).toEqual(["@acme/kiln-hello"]);
    expect(kiln.plugins.get("acme:hello")).toBe(plugin);
  });

  it("fires layersLoaded, then configParsed, once, for the plugins KILN_PLUGINS names; a configParsed tap that throws stops the parse", async () => {
    build(`KILN_PLUGINS = "../seen.mjs"\nSEEN_SETTING = "from local.conf"`, {
      "seen.mjs": `export default { name: "kiln:seen", apply(kiln) {
        globalThis.__kilnSeen = [];
        kiln.hooks.layersLoaded.tap("kiln:seen", (layers) => globalThis.__kilnSeen.push("layers " + layers.length));
        kiln.hooks.configParsed.tap("kiln:seen", (d) => {
          globalThis.__kilnSeen.push("config " + d.getVar("SEEN_SETTING"));
          if (d.getVar("SEEN_FAIL")) throw new Error("SEEN_FAIL is set");
        });
      } };\n`,
    });
    const seen = () => (globalThis as unknown as { __kilnSeen: string[] }).__kilnSeen;
    const kiln = new Kiln({ cwd: tree.path("build"), env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
    await kiln.parseAll();
    await kiln.parseAll();
    expect(seen()).toEqual(["layers 2", "config from local.conf"]);

    tree.write("build/conf/local.conf", `MACHINE = "m1"\nDISTRO = "d1"\nKILN_PLUGINS = "../seen.mjs"\nSEEN_FAIL = "1"\n`);
    clearFileCache();
    const err = await new Kiln({ cwd: tree.path("build"), env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } }).parseAll().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HookError);
    expect((err as Error).message).toBe("kiln:seen failed in hook configParsed: SEEN_FAIL is set");
  });

  it.each([
    ["a missing module", `KILN_PLUGINS = "../nowhere.mjs"`, {}, /Cannot load plugin '\.\.\/nowhere\.mjs'/],
    ["a module that is no plugin", `KILN_PLUGINS = "../plain.mjs"`, { "plain.mjs": "export const x = 1;\n" }, /does not export a kiln plugin/],
    ["two plugins with one name", `KILN_PLUGINS = "../p1.mjs ../p2.mjs"`, { "p1.mjs": PLUGIN("kiln:same"), "p2.mjs": PLUGIN("kiln:same") }, /Two plugins are named 'kiln:same'/],
  ] as const)("rejects %s with a clear LAYER_ERROR", async (_what, local, files, message) => {
    build(local, files as Record<string, string>);
    const kiln = new Kiln({ cwd: tree.path("build"), env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
    const err = await kiln.parseAll().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KilnError);
    expect((err as KilnError).code).toBe("LAYER_ERROR");
    expect((err as KilnError).message).toMatch(message);
  });

  it("attributes a failing tap to its plugin and hook (HookError), and the task fails with that message", async () => {
    build(`KILN_PLUGINS = "../boom.mjs"`, {
      "boom.mjs": `export default { name: "kiln:boom", apply(kiln) { kiln.hooks.taskPre.tapPromise("kiln:boom", async () => { throw new Error("kaboom"); }); } };\n`,
    });
    const { done, failed } = await run("r:do_hello");
    expect(done.failed).toBe(1);
    expect(failed[0].message).toBe("kiln:boom failed in hook taskPre: kaboom");
  });

  it("HookError carries the plugin and hook names", () => {
    const e = new HookError("kiln:x", "checkHashes", new Error("no"));
    expect([e.code, e.plugin, e.hook]).toEqual(["HOOK_ERROR", "kiln:x", "checkHashes"]);
  });
});
