/**
 * Opt-in (KILN_TEST_DEBIAN_ARCHIVE=1): the host's configured Debian suite (its apt
 * sources and archive keyring are the defaults), the minbase variant, configured in
 * a chroot (needs root and the network). The rootfs must configure without error and
 * dpkg inside it must list every package of the resolved set as installed.
 * KILN_TEST_DEBIAN_DL_DIR keeps the downloads between runs.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { clearFileCache } from "@kiln/core";
import { main } from "@kiln/cli";

const enabled = process.env.KILN_TEST_DEBIAN_ARCHIVE === "1";
const roots: string[] = [];
afterAll(() => {
  if (!process.env.KILN_KEEP_TMP) for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

async function kiln(build: string, args: string[]) {
  clearFileCache();
  let out = "";
  const code = await main(args, { cwd: build, env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", HOME: process.env.HOME ?? "/root" }, io: { out: (t) => (out += t), err: (t) => (out += t) } });
  return { code, out };
}

describe.skipIf(!enabled)("the host's Debian suite (KILN_TEST_DEBIAN_ARCHIVE=1)", () => {
  it("builds and configures a minbase rootfs whose dpkg lists the resolved set as installed", async () => {
    const root = mkdtempSync(join(tmpdir(), "kiln-debian-archive-"));
    roots.push(root);
    const write = (rel: string, text: string) => {
      mkdirSync(dirname(join(root, rel)), { recursive: true });
      writeFileSync(join(root, rel), text);
    };
    const dl = process.env.KILN_TEST_DEBIAN_DL_DIR;
    write("build/conf/bblayers.conf", `BBPATH = "\${TOPDIR}"\nBBLAYERS = "\${TOPDIR}/../meta-real"\n`);
    write("build/conf/local.conf", `KILN_PLUGINS += "@kiln/debian"\n${dl ? `DL_DIR = "${dl}"\n` : ""}`);
    write(
      "meta-real/conf/layer.conf",
      `BBPATH .= ":\${LAYERDIR}"\nBBFILES += "\${LAYERDIR}/*.bb"\nBBFILE_COLLECTIONS += "real"\nBBFILE_PATTERN_real = "^\${LAYERDIR}/"\nBBFILE_PRIORITY_real = "5"\n`,
    );
    write("meta-real/minbase_1.0.bb", `DEBIAN_VARIANT = "minbase"\nDEBIAN_CONFIGURE = "1"\ninherit debian-rootfs\n`);
    const build = join(root, "build");

    const show = await kiln(build, ["debian", "show", "minbase"]);
    expect(show.code, show.out).toBe(0);
    const names = show.out.split("\n").filter((l) => l.includes("<-")).map((l) => l.split(" ")[0]);
    // merged /usr: usr-is-merged satisfies `usrmerge | usr-is-merged`, so no perl
    expect(names).toContain("usr-is-merged");
    expect(names).not.toContain("usrmerge");

    const built = await kiln(build, ["minbase"]);
    expect(built.code, built.out.slice(-4000)).toBe(0);
    const work = join(build, "tmp", "work");
    const sys = readdirSync(work).find((d) => readdirSync(join(work, d)).includes("minbase")) as string;
    const rootfs = join(work, sys, "minbase", "1.0-r0", "rootfs");
    const installed = execFileSync("chroot", [rootfs, "/bin/sh", "-c", "dpkg -l | grep ^ii | wc -l"], { encoding: "utf8" }).trim();
    console.log(`minbase of the host's suite: ${names.length} packages resolved, ${installed} installed (ii) after configure`);
    expect(Number(installed)).toBe(names.length);
  }, 900_000);
});
