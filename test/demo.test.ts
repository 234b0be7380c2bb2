/**
 * Issue #7's main job end to end: the demo distribution (fixtures/meta-demo) with the
 * fourth backend from a layer (fixtures/meta-extra-backend) built from source into
 * ipk, deb, rpm and tar.zst packages and demo-image; then TMPDIR deleted and the
 * image built again from shared state alone, identical.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clearFileCache } from "@kiln/core";
import { main } from "@kiln/cli";
import { makeDemoSources } from "../fixtures/meta-demo/scripts/make-sources.js";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..");
let root: string;
let build: string;
let first: { code: number; out: string };

async function kiln(args: string[]): Promise<{ code: number; out: string }> {
  clearFileCache();
  let out = "";
  const code = await main(args, {
    cwd: build,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", PWD: build },
    io: { out: (t) => (out += t), err: (t) => (out += t) },
  });
  return { code, out };
}

const deploy = (...rel: string[]) => join(build, "tmp", "deploy", ...rel);
const filesIn = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String).sort() : []);
const ran = (out: string) => [...out.matchAll(/Task (\S+) succeeded/g)].map((m) => m[1]);

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "kiln-demo-"));
  build = join(root, "build");
  mkdirSync(join(build, "conf"), { recursive: true });
  writeFileSync(join(build, "conf", "bblayers.conf"), `BBPATH = "\${TOPDIR}"\nBBLAYERS = "${REPO}/fixtures/meta-demo ${REPO}/fixtures/meta-extra-backend"\n`);
  cpSync(join(REPO, "fixtures", "demo-build", "conf", "local.conf"), join(build, "conf", "local.conf"));
  await makeDemoSources(join(build, "mirror"));
  first = await kiln(["demo-image"]);
}, 240_000);
afterAll(() => {
  if (!process.env.KILN_KEEP_TMP) rmSync(root, { recursive: true, force: true });
});

describe("the demo distribution", () => {
  it("builds demo-image from source through the local mirror", () => {
    expect(first.code, first.out).toBe(0);
    expect(ran(first.out)).toEqual(expect.arrayContaining(["libgreet:do_compile", "greeter:do_compile", "demo-image:do_rootfs"]));
    expect(filesIn(join(build, "downloads")).filter((f) => f.endsWith(".tar")).length).toBeGreaterThanOrEqual(5);
  });

  it("packages every recipe with each of the four backends, the same package set each time", () => {
    const names = (type: string, ext: string) =>
      filesIn(deploy(type))
        .filter((f) => f.endsWith(ext))
        .map((f) => /([^/]+?)[-_]\d/.exec(f.split("/").pop() ?? "")?.[1])
        .sort();
    const deb = names("deb", ".deb");
    expect(deb).toEqual(["greeter", "hello-scripts", "libgreet", "libgreet-dev", "libgreet-staticdev", "motd", "tiny-edit"]);
    expect(names("ipk", ".ipk")).toEqual(deb);
    expect(names("rpm", ".rpm")).toEqual(deb);
    expect(names("tarzst", ".tar.zst")).toEqual(deb);
  });

  it("builds the PREFERRED_PROVIDER of virtual/editor, not the other candidate", () => {
    expect(ran(first.out).some((t) => t.startsWith("tiny-edit:"))).toBe(true);
    expect(ran(first.out).some((t) => t.startsWith("big-edit:"))).toBe(false);
  });

  it("writes the layer backend's JSON manifests with the shared-library dependency found by do_package", () => {
    const json = JSON.parse(readFileSync(deploy("tarzst", "x86_64", "greeter-1.0-r0.json"), "utf8")) as { depends: Record<string, string[]>; files: { path: string; sha256?: string }[] };
    expect(Object.keys(json.depends)).toEqual(["libgreet"]);
    expect(json.files.map((f) => f.path)).toEqual(["/usr/bin/greeter"]);
    expect(execFileSync("sh", ["-c", `zstd -dc '${deploy("tarzst", "x86_64", "greeter-1.0-r0.tar.zst")}' | tar -t`], { encoding: "utf8" })).toContain("./usr/bin/greeter");
  });

  it("puts a root filesystem into the image: runtime dependencies resolved, postinst run offline", () => {
    const image = filesIn(deploy("images")).find((f) => f.endsWith(".rootfs.tar.gz"));
    expect(image).toBeDefined();
    const members = execFileSync("tar", ["-tzf", deploy("images", image ?? "")], { encoding: "utf8" }).split("\n");
    for (const path of ["./usr/bin/hello-kiln", "./usr/bin/greeter", "./usr/lib/libgreet.so.1", "./usr/bin/edit", "./etc/motd"]) expect(members).toContain(path);
    expect(members).not.toContain("./usr/include/greet.h");
    const motd = execFileSync("tar", ["-xzOf", deploy("images", image ?? ""), "./etc/motd"], { encoding: "utf8" });
    expect(motd).toBe("Welcome to Kiln Demo Linux 1.0.\nThis image was put together by kiln.\n");
    const manifest = filesIn(deploy("images")).find((f) => f.endsWith(".manifest"));
    const lines = readFileSync(deploy("images", manifest ?? ""), "utf8").trim().split("\n");
    expect(lines.map((l) => l.split(" ")[0])).toEqual(["greeter", "hello-scripts", "libgreet", "motd", "tiny-edit"]);
  });

  it("rebuilds the image from shared state alone after TMPDIR is deleted, byte for byte", async () => {
    const image = filesIn(deploy("images")).find((f) => f.endsWith(".rootfs.tar.gz")) ?? "";
    const before = createHash("sha256").update(readFileSync(deploy("images", image))).digest("hex");
    rmSync(join(build, "tmp"), { recursive: true, force: true });
    const again = await kiln(["demo-image"]);
    expect(again.code, again.out).toBe(0);
    const real = ran(again.out).filter((t) => !t.endsWith("_setscene"));
    expect(real.filter((t) => /:do_(compile|install|package|package_write_\w+)$/.test(t))).toEqual([]);
    expect(ran(again.out).filter((t) => t.endsWith("_setscene")).length).toBeGreaterThan(0);
    expect(createHash("sha256").update(readFileSync(deploy("images", image))).digest("hex")).toBe(before);
  }, 120_000);
});
