/** Shared state end to end: objects after sstate tasks, restore after TMPDIR is wiped, bad and hostile objects. */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createHash } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import tar from "tar-stream";
import { build as buildIn, writeLayer } from "./layer.js";
import { readSiginfo } from "@kiln/core";

let root: string;
const write = (rel: string, text: string) => {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text);
};

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "kiln-sstate-"));
  writeLayer(root);
});
afterEach(() => {
  if (!process.env.KILN_KEEP_TMP) rmSync(root, { recursive: true, force: true });
});

const build = (target = "app", env: Record<string, string> = {}) => buildIn(root, target, env);

const sstateDir = () => join(root, "build", "sstate-cache");
function objects(): string[] {
  if (!existsSync(sstateDir())) return [];
  return readdirSync(sstateDir(), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(".tar.zst"))
    .map((f) => join(sstateDir(), f))
    .sort();
}
const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");
const sysroot = (rel: string) => join(root, "build", "tmp", "shared-sysroot", rel);

describe("@kiln/sstate", () => {
  it("writes an object per sstate task, installs into the shared tree with a manifest, and restores everything after TMPDIR is wiped", async () => {
    const first = await build();
    expect(first.done.failed, JSON.stringify(first.failed)).toBe(0);
    expect(first.started).toContain("lib:do_compile");
    const objs = objects();
    // SSTATE_DIR/<first two hex digits of the hash>/sstate:PN:arch:PV:PR:pkgarch:version:hash_task.tar.zst
    expect(objs.map((o) => o.slice(sstateDir().length + 1).replace(/[0-9a-f]{64}/, "<hash>").replace(/^[0-9a-f]{2}\//, "<xx>/")).sort()).toEqual([
      "<xx>/sstate:app:x86_64-kiln-linux:1.0:r0:x86_64:1:<hash>_populate_sysroot.tar.zst",
      "<xx>/sstate:lib:x86_64-kiln-linux:1.0:r0:x86_64:1:<hash>_populate_sysroot.tar.zst",
    ]);
    for (const o of objs) expect(o.split("/").at(-2)).toBe(/([0-9a-f]{64})_populate_sysroot/.exec(o)?.[1].slice(0, 2));
    for (const o of objs) expect(readFileSync(`${o}.sha256`, "utf8").trim()).toBe(sha(o));
    // each object has its task's siginfo beside it (what diffsigs reads)
    for (const o of objs) expect(readSiginfo(`${o}.siginfo`).taskhash).toBe(/([0-9a-f]{64})_/.exec(o)?.[1]);
    expect(readFileSync(sysroot("usr/share/lib/lib.txt"), "utf8")).toBe("lib built with -O2\n");
    const before = readFileSync(sysroot("usr/share/app/app.txt"), "utf8");

    rmSync(join(root, "build", "tmp"), { recursive: true, force: true });
    const again = await build();
    expect(again.done.failed, JSON.stringify(again.failed)).toBe(0);
    expect(again.started).toEqual(["app:do_populate_sysroot_setscene", "lib:do_populate_sysroot_setscene"]);
    expect(readFileSync(sysroot("usr/share/app/app.txt"), "utf8")).toBe(before);
    expect(readFileSync(sysroot("usr/share/lib/lib.txt"), "utf8")).toBe("lib built with -O2\n");
    // the symlink came back as a symlink
    expect(readFileSync(sysroot("usr/share/lib/link.txt"), "utf8")).toBe("lib built with -O2\n");
  });

  it("SSTATE_COMPRESSION = xz writes .tar.xz objects (lzma-native), the same bytes each time, and restores them", async () => {
    writeFileSync(join(root, "build/conf/local.conf"), `MACHINE = "m1"\nLIBFLAGS ?= "-O2"\nSSTATE_COMPRESSION = "xz"\n`);
    expect((await build("lib")).done.failed).toBe(0);
    const xz = readdirSync(sstateDir(), { recursive: true }).map(String).filter((f) => f.endsWith(".tar.xz"));
    expect(xz).toHaveLength(1);
    const obj = join(sstateDir(), xz[0]);
    expect(readFileSync(obj).subarray(0, 6)).toEqual(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])); // xz magic
    const bytes = sha(obj);
    rmSync(join(root, "build", "tmp"), { recursive: true, force: true });
    const again = await build("lib");
    expect(again.started).toEqual(["lib:do_populate_sysroot_setscene"]);
    expect(readFileSync(sysroot("usr/share/lib/lib.txt"), "utf8")).toBe("lib built with -O2\n");
    rmSync(join(root, "build", "tmp"), { recursive: true, force: true });
    rmSync(sstateDir(), { recursive: true, force: true });
    await build("lib");
    expect(sha(obj)).toBe(bytes);
  });

  it("makes byte-identical objects from the same output", async () => {
    await build("lib");
    const [first] = objects();
    const bytes = sha(first);
    rmSync(join(root, "build", "tmp"), { recursive: true, force: true });
    rmSync(sstateDir(), { recursive: true, force: true });
    await build("lib");
    expect(sha(objects()[0])).toBe(bytes);
  });

  it("a changed input builds anew and replaces what the old version installed", async () => {
    await build("lib");
    writeFileSync(join(root, "build/conf/local.conf"), `MACHINE = "m1"\nLIBFLAGS = "-O3"\n`);
    const again = await build("lib");
    expect(again.started).toContain("lib:do_compile");
    expect(readFileSync(sysroot("usr/share/lib/lib.txt"), "utf8")).toBe("lib built with -O3\n");
    expect(objects()).toHaveLength(2);
  });

  it("a corrupt object is detected, moved aside, and the real tasks run instead", async () => {
    await build("lib");
    const [obj] = objects();
    const buf = readFileSync(obj);
    buf[buf.length >> 1] ^= 0xff;
    writeFileSync(obj, buf);
    rmSync(join(root, "build", "tmp"), { recursive: true, force: true });
    const again = await build("lib");
    expect(again.done.failed).toBe(0);
    expect(again.started).toContain("lib:do_compile");
    expect(again.warnings.join("\n")).toMatch(/lib:do_populate_sysroot_setscene failed/);
    expect(existsSync(`${obj}.bad`)).toBe(true);
    // the rebuilt object is good again
    expect(readFileSync(`${obj}.sha256`, "utf8").trim()).toBe(sha(obj));
  });

  it.each([
    ["a ../ member", { name: "inputs/0/../../../escaped.txt", type: "file" as const, body: "x" }],
    ["an absolute member", { name: "/tmp/kiln-sstate-absolute.txt", type: "file" as const, body: "x" }],
    ["a symlink pointing out", { name: "inputs/0/out", type: "symlink" as const, linkname: "../../../../outside" }],
  ])("refuses an object with %s: nothing is written outside, the real task runs", async (_what, member) => {
    await build("lib");
    const [obj] = objects();
    const pack = tar.pack();
    pack.entry({ name: "inputs/0", type: "directory" });
    if (member.type === "file") pack.entry({ name: member.name }, member.body);
    else pack.entry({ name: member.name, type: "symlink", linkname: member.linkname });
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    const zst = execFileSync("zstd", ["-q", "-c"], { input: Buffer.concat(chunks) });
    writeFileSync(obj, zst);
    writeFileSync(`${obj}.sha256`, `${sha(obj)}\n`);
    rmSync(join(root, "build", "tmp"), { recursive: true, force: true });
    const again = await build("lib");
    expect(again.done.failed).toBe(0);
    expect(again.started).toContain("lib:do_compile");
    expect(existsSync(join(root, "escaped.txt"))).toBe(false);
    expect(existsSync(join(root, "build", "escaped.txt"))).toBe(false);
    expect(existsSync("/tmp/kiln-sstate-absolute.txt")).toBe(false);
  });

  it("SSTATE_ALLOW_OVERLAP_FILES lets two recipes install the same path", async () => {
    write("meta-s/recipes/clash_1.0.bb", `inherit stage\ndo_compile() {\n\techo clash > \${B}/built.txt\n}\ndo_compile[dirs] = "\${B}"\ndo_populate_sysroot() {\n\tmkdir -p \${STAGE_OUT}/usr/share/lib\n\tcp \${B}/built.txt \${STAGE_OUT}/usr/share/lib/lib.txt\n}\n`);
    writeFileSync(join(root, "build/conf/local.conf"), `MACHINE = "m1"\nLIBFLAGS ?= "-O2"\nSSTATE_ALLOW_OVERLAP_FILES = "\${TMPDIR}/shared-sysroot/usr/share/lib"\n`);
    expect((await build("lib")).done.failed).toBe(0);
    expect((await build("clash")).done.failed).toBe(0);
    expect(readFileSync(sysroot("usr/share/lib/lib.txt"), "utf8")).toBe("clash\n");
  });

  it("[sstate-name] names the object", async () => {
    writeFileSync(join(root, "meta-s/recipes/lib_1.0.bb"), readFileSync(join(root, "meta-s/recipes/lib_1.0.bb"), "utf8") + `do_populate_sysroot[sstate-name] = "sysroot-files"\n`);
    expect((await build("lib")).done.failed).toBe(0);
    expect(objects().map((o) => o.replace(/.*_/, "_"))).toEqual(["_sysroot-files.tar.zst"]);
    rmSync(join(root, "build", "tmp"), { recursive: true, force: true });
    expect((await build("lib")).started).toEqual(["lib:do_populate_sysroot_setscene"]);
  });

  it("[sstate-plaindirs] are archived and put back where they were", async () => {
    writeFileSync(
      join(root, "meta-s/recipes/lib_1.0.bb"),
      readFileSync(join(root, "meta-s/recipes/lib_1.0.bb"), "utf8") +
        `do_populate_sysroot:append() {\n\tmkdir -p \${WORKDIR}/plain-out\n\techo kept > \${WORKDIR}/plain-out/note\n}\ndo_populate_sysroot[sstate-plaindirs] = "\${WORKDIR}/plain-out"\n`,
    );
    expect((await build("lib")).done.failed).toBe(0);
    rmSync(join(root, "build", "tmp"), { recursive: true, force: true });
    expect((await build("lib")).started).toEqual(["lib:do_populate_sysroot_setscene"]);
    const work = readdirSync(join(root, "build/tmp/work"), { recursive: true }).map(String).find((f) => f.endsWith("plain-out/note"));
    expect(work).toBeDefined();
    expect(readFileSync(join(root, "build/tmp/work", work as string), "utf8")).toBe("kept\n");
  });

  it("a truncated object is detected and not used", async () => {
    await build("lib");
    const [obj] = objects();
    const buf = readFileSync(obj);
    writeFileSync(obj, buf.subarray(0, buf.length >> 1));
    rmSync(join(root, "build", "tmp"), { recursive: true, force: true });
    const again = await build("lib");
    expect(again.started).toContain("lib:do_compile");
    expect(existsSync(`${obj}.bad`)).toBe(true);
  });

  it("two recipes installing the same path into a shared tree is an error naming both", async () => {
    write("meta-s/recipes/clash_1.0.bb", `inherit stage\nSTAGE_NAME = "lib"\ndo_compile() {\n\techo clash > \${B}/built.txt\n}\ndo_compile[dirs] = "\${B}"\ndo_populate_sysroot() {\n\tmkdir -p \${STAGE_OUT}/usr/share/lib\n\tcp \${B}/built.txt \${STAGE_OUT}/usr/share/lib/lib.txt\n}\n`);
    expect((await build("lib")).done.failed).toBe(0);
    const clash = await build("clash");
    expect(clash.done.failed).toBe(1);
    expect(clash.failed[0].message).toMatch(/clash:do_populate_sysroot installs .*usr\/share\/lib\/lib\.txt, which lib:do_populate_sysroot already installed/);
  });
});
