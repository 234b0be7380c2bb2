/** `kiln sstate list|prune` and shared state through the CLI (KILN_PLUGINS += "@kiln/sstate"). */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, utimesSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { clearFileCache } from "@kiln/core";
import { main } from "../src/main.js";

let root: string;
const write = (rel: string, text: string) => {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text);
};
async function kiln(args: string[]) {
  clearFileCache();
  let out = "";
  const code = await main(args, { cwd: join(root, "build"), env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/root" }, io: { out: (t) => (out += t), err: (t) => (out += t) } });
  return { code, out };
}
const objects = () =>
  readdirSync(join(root, "build", "sstate-cache"), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(".tar.zst"));

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "kiln-sstate-cli-"));
  write("build/conf/bblayers.conf", `BBPATH = "\${TOPDIR}"\nBBLAYERS = "\${TOPDIR}/../meta-s"\n`);
  write("build/conf/local.conf", `KILN_PLUGINS += "@kiln/sstate"\nGREETING ?= "one"\n`);
  write("meta-s/conf/layer.conf", `BBPATH .= ":\${LAYERDIR}"\nBBFILES += "\${LAYERDIR}/recipes/*.bb"\nBBFILE_COLLECTIONS += "s"\nBBFILE_PATTERN_s = "^\${LAYERDIR}/"\nBBFILE_PRIORITY_s = "5"\n`);
  write("meta-s/recipes/hi_1.0.bb", `do_install() {\n\tmkdir -p \${D}\${datadir}/hi\n\techo "\${GREETING}" > \${D}\${datadir}/hi/greeting\n}\n`);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("kiln sstate", () => {
  it("list shows each shared state task of a target as local once built, missing before", async () => {
    const before = await kiln(["sstate", "list", "hi"]);
    expect(before.code, before.out).toBe(0);
    expect(before.out).toMatch(/^hi:do_populate_sysroot\s+missing\s/m);
    expect((await kiln(["hi"])).code).toBe(0);
    const after = await kiln(["sstate", "list", "hi"]);
    expect(after.out).toMatch(/^hi:do_populate_sysroot\s+local\s+.*sstate:hi:.*_populate_sysroot\.tar\.zst$/m);
    expect(after.out).toContain("1 shared state tasks: 1 local, 0 on a mirror, 0 missing");
  });

  it("prune --keep-latest keeps the newest object of each task; --older-than removes old ones", async () => {
    expect((await kiln(["hi"])).code).toBe(0);
    write("build/conf/local.conf", `KILN_PLUGINS += "@kiln/sstate"\nGREETING = "two"\n`);
    expect((await kiln(["hi"])).code).toBe(0);
    expect(objects()).toHaveLength(2);
    // make the first one older
    const [a, b] = objects().map((f) => join(root, "build", "sstate-cache", f));
    const old = new Date(Date.now() - 3 * 86_400_000);
    const newest = (await kiln(["sstate", "list", "hi"])).out.includes(a) ? a : b;
    utimesSync(newest === a ? b : a, old, old);
    const kept = await kiln(["sstate", "prune", "--keep-latest"]);
    expect(kept.code, kept.out).toBe(0);
    expect(kept.out).toContain("1 objects removed");
    expect(objects()).toHaveLength(1);
    expect((await kiln(["sstate", "prune", "--older-than", "1"])).out).toContain("0 objects removed");
    utimesSync(newest, old, old);
    expect((await kiln(["sstate", "prune", "--older-than", "1"])).out).toContain("1 objects removed");
    expect(objects()).toHaveLength(0);
  });

  it("-n shows what shared state would restore and what would still run, and changes nothing", async () => {
    expect((await kiln(["hi"])).code).toBe(0);
    rmSync(join(root, "build", "tmp"), { recursive: true, force: true });
    const dry = await kiln(["-n", "hi"]);
    expect(dry.code, dry.out).toBe(0);
    expect(dry.out).toMatch(/: hi:do_populate_sysroot_setscene \(dry run\)$/m);
    expect(dry.out).not.toMatch(/hi:do_(compile|install) \(dry run\)/);
    expect(dry.out).toContain("1 would be restored from shared state");
    expect(readdirSync(join(root, "build")).includes("tmp") ? readdirSync(join(root, "build", "tmp")).filter((f) => f !== "cache") : []).toEqual([]);
  });

  it("prune without a criterion is a usage error", async () => {
    expect((await kiln(["sstate", "prune"])).code).toBe(2);
  });
});
