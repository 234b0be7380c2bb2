/**
 * Issue #5's end-to-end case, through the CLI and the base class's real
 * do_populate_sysroot: recipes whose sysroot output a dependent recipe compiles
 * against; wipe TMPDIR and build again → everything restored, no do_compile runs,
 * outputs identical; then another machine (a fresh directory) with only
 * SSTATE_MIRRORS pointing at the first one's SSTATE_DIR over HTTP → the same.
 * Also: `kill -9` while an object is written leaves no partial object, and two
 * builds sharing SSTATE_DIR at once both succeed with intact objects.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { clearFileCache } from "@kiln/core";
import { main } from "@kiln/cli";

const BIN = join(dirname(fileURLToPath(import.meta.url)), "..", "packages", "cli", "bin", "kiln.js");
const roots: string[] = [];
afterEach(() => {
  if (!process.env.KILN_KEEP_TMP) for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

function layer(local = "", sstateDir?: string): string {
  const root = mkdtempSync(join(tmpdir(), "kiln-e2e-"));
  roots.push(root);
  const write = (rel: string, text: string) => {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
  };
  write("build/conf/bblayers.conf", `BBPATH = "\${TOPDIR}"\nBBLAYERS = "\${TOPDIR}/../meta-e"\n`);
  write(
    "build/conf/local.conf",
    `KILN_PLUGINS += "@kiln/sstate"\nRECORD = "\${TOPDIR}/record"\n${sstateDir ? `SSTATE_DIR = "${sstateDir}"\n` : ""}${local}\n`,
  );
  write("meta-e/conf/layer.conf", `BBPATH .= ":\${LAYERDIR}"\nBBFILES += "\${LAYERDIR}/recipes/*.bb"\nBBFILE_COLLECTIONS += "e"\nBBFILE_PATTERN_e = "^\${LAYERDIR}/"\nBBFILE_PRIORITY_e = "5"\n`);
  write("meta-e/classes/rec.bbclass", `record_task() {\n\techo "\${PN}:\${BB_CURRENTTASK}" >> \${RECORD}\n}\ndo_compile[prefuncs] += "record_task"\ndo_install[prefuncs] += "record_task"\n`);
  write(
    "meta-e/recipes/libgreet_1.0.bb",
    `inherit rec\nBIG ?= "0"\ndo_compile() {\n\techo '#define GREETING "hello"' > greet.h\n\tif [ "\${BIG}" != "0" ]; then head -c \${BIG} /dev/urandom > big.bin; fi\n}\ndo_install() {\n\tinstall -d \${D}\${includedir} \${D}\${datadir}/greet\n\tinstall -m 644 greet.h \${D}\${includedir}/greet.h\n\tif [ -f big.bin ]; then cp big.bin \${D}\${datadir}/greet/; fi\n}\n`,
  );
  write(
    "meta-e/recipes/bootimg_1.0.bb",
    `inherit rec\ndo_compile() {\n\techo "boot image" > boot.img\n}\ndo_deploy() {\n\tinstall -m 644 boot.img \${DEPLOYDIR}/boot-\${MACHINE}.img\n}\naddtask deploy after do_compile before do_build\n`,
  );
  write(
    "meta-e/recipes/greeter_1.0.bb",
    `inherit rec\nDEPENDS = "libgreet"\ndo_compile() {\n\t{ echo "#!/bin/sh"; echo "echo $(sed -n 's/.*GREETING //p' \${STAGING_DIR_HOST}\${includedir}/greet.h) from greeter"; } > greeter\n}\ndo_install() {\n\tinstall -d \${D}\${datadir}/greeter\n\tinstall -m 755 greeter \${D}\${datadir}/greeter/greeter\n}\n`,
  );
  return root;
}

async function kiln(root: string, args: string[]) {
  clearFileCache();
  let out = "";
  const code = await main(args, { cwd: join(root, "build"), env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/root" }, io: { out: (t) => (out += t), err: (t) => (out += t) } });
  const record = existsSync(join(root, "build", "record")) ? readFileSync(join(root, "build", "record"), "utf8").split("\n").filter(Boolean).sort() : [];
  rmSync(join(root, "build", "record"), { force: true });
  return { code, out, record };
}

const sysrootFile = (root: string, rel: string) => {
  const base = join(root, "build", "tmp", "sysroots");
  const machine = readdirSync(base)[0];
  return readFileSync(join(base, machine, rel), "utf8");
};

function objectsIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(".tar.zst"))
    .map((f) => join(dir, f));
}
const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");

function serve(dir: string): Promise<Server> {
  const s = createServer((req, res) => {
    const path = join(dir, decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname));
    if (!path.startsWith(dir) || !existsSync(path) || !statSync(path).isFile()) return void res.writeHead(404).end();
    res.writeHead(200, { "content-length": statSync(path).size });
    if (req.method === "HEAD") res.end();
    else createReadStream(path).pipe(res);
  });
  return new Promise((resolve) => s.listen(0, "127.0.0.1", () => resolve(s)));
}

describe("shared state end to end (issue #5)", () => {
  it("restores everything after TMPDIR is wiped, then on another machine from an HTTP mirror", async () => {
    const first = layer();
    const built = await kiln(first, ["greeter"]);
    expect(built.code, built.out).toBe(0);
    expect(built.record).toEqual(["greeter:compile", "greeter:install", "libgreet:compile", "libgreet:install"]);
    const header = sysrootFile(first, "usr/include/greet.h");
    const program = sysrootFile(first, "usr/share/greeter/greeter");
    expect(program).toContain('echo "hello" from greeter');

    rmSync(join(first, "build", "tmp"), { recursive: true, force: true });
    const again = await kiln(first, ["greeter"]);
    expect(again.code, again.out).toBe(0);
    expect(again.record).toEqual([]); // no do_compile, no do_install
    expect(again.out).toMatch(/greeter:do_populate_sysroot_setscene/);
    expect(sysrootFile(first, "usr/include/greet.h")).toBe(header);
    expect(sysrootFile(first, "usr/share/greeter/greeter")).toBe(program);

    const server = await serve(join(first, "build", "sstate-cache"));
    try {
      const port = (server.address() as AddressInfo).port;
      const second = layer(`SSTATE_MIRRORS = "file://.* http://127.0.0.1:${port}/PATH"`);
      const mirrored = await kiln(second, ["greeter"]);
      expect(mirrored.code, mirrored.out).toBe(0);
      expect(mirrored.record).toEqual([]);
      expect(sysrootFile(second, "usr/include/greet.h")).toBe(header);
      expect(sysrootFile(second, "usr/share/greeter/greeter")).toBe(program);
      expect(objectsIn(join(second, "build", "sstate-cache"))).toHaveLength(2);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it("-c cleansstate removes the recipe's work, its sysroot files and its objects (every taskhash), not others'; -c cleanall its downloads too", async () => {
    const root = layer();
    // libgreet gets a source file from a local mirror (PREMIRRORS: port 9 is never asked), so it has a download in DL_DIR
    const mirror = join(root, "mirror");
    mkdirSync(mirror, { recursive: true });
    writeFileSync(join(mirror, "greet-src.txt"), "source\n");
    const recipe = join(root, "meta-e", "recipes", "libgreet_1.0.bb");
    writeFileSync(recipe, `SRC_URI = "http://127.0.0.1:9/greet-src.txt"\nSRC_URI[sha256sum] = "${createHash("sha256").update("source\n").digest("hex")}"\nPREMIRRORS = "http://127\\.0\\.0\\.1:9/.* file://${mirror}/"\n` + readFileSync(recipe, "utf8"));
    expect((await kiln(root, ["greeter"])).code).toBe(0);
    const sstateDir = join(root, "build", "sstate-cache");
    const objects = objectsIn(sstateDir);
    const libgreet = objects.filter((o) => o.includes("sstate:libgreet:"));
    expect(libgreet.length).toBeGreaterThan(0);
    expect(sysrootFile(root, "usr/include/greet.h")).toContain("hello");
    // an older object of libgreet (another taskhash) goes too
    const older = libgreet[0].replace(/:([0-9a-f]{64})_/, `:${"0".repeat(64)}_`);
    writeFileSync(older, "old object");
    writeFileSync(`${older}.siginfo`, "old siginfo");

    const clean = await kiln(root, ["-c", "cleansstate", "libgreet"]);
    expect(clean.code, clean.out).toBe(0);
    expect(objectsIn(sstateDir).filter((o) => o.includes("sstate:libgreet:"))).toEqual([]);
    expect(existsSync(`${older}.siginfo`)).toBe(false);
    expect(objectsIn(sstateDir).filter((o) => o.includes("sstate:greeter:")).length).toBeGreaterThan(0);
    expect(() => sysrootFile(root, "usr/include/greet.h")).toThrow(); // its manifest's files removed
    expect(readdirSync(join(root, "build", "tmp", "work"), { recursive: true }).map(String).some((p) => p.includes("greeter/1.0-r0"))).toBe(true); // others' stay
    // its WORKDIR is gone but for the temp/ that do_cleansstate's own log made again
    const left = readdirSync(join(root, "build", "tmp", "work"), { recursive: true }).map(String).filter((p) => p.includes("libgreet/1.0-r0/"));
    expect(left.filter((p) => !p.includes("libgreet/1.0-r0/temp"))).toEqual([]);

    // built again: compiled, not restored (its objects are gone)
    const again = await kiln(root, ["libgreet"]);
    expect(again.code, again.out).toBe(0);
    expect(again.record).toContain("libgreet:compile");
    const download = join(root, "build", "downloads", "greet-src.txt");
    expect(existsSync(download) && existsSync(`${download}.done`)).toBe(true);
    const all = await kiln(root, ["-c", "cleanall", "libgreet"]);
    expect(all.code, all.out).toBe(0);
    expect(existsSync(download) || existsSync(`${download}.done`)).toBe(false);
    expect(readFileSync(join(mirror, "greet-src.txt"), "utf8")).toBe("source\n"); // only DL_DIR's copy
  });

  it("do_deploy output lands in DEPLOY_DIR_IMAGE and comes back from shared state", async () => {
    const root = layer();
    expect((await kiln(root, ["bootimg"])).code).toBe(0);
    const images = join(root, "build", "tmp", "deploy", "images");
    const machine = readdirSync(images)[0];
    const img = join(images, machine, `boot-${machine}.img`);
    expect(readFileSync(img, "utf8")).toBe("boot image\n");
    rmSync(join(root, "build", "tmp"), { recursive: true, force: true });
    const again = await kiln(root, ["bootimg"]);
    expect(again.code, again.out).toBe(0);
    expect(again.record).toEqual([]);
    expect(again.out).toMatch(/bootimg:do_deploy_setscene/);
    expect(readFileSync(img, "utf8")).toBe("boot image\n");
  });

  it("kill -9 while an object is being written leaves no partial object; the next build makes a good one", async () => {
    const root = layer(`BIG = "60000000"`);
    const sstate = join(root, "build", "sstate-cache");
    const child = spawn(process.execPath, [BIN, "libgreet"], { cwd: join(root, "build"), env: { PATH: process.env.PATH, HOME: "/root" }, stdio: "ignore" });
    // wait until a temp object appears, then kill
    const deadline = Date.now() + 30_000;
    let sawTemp = false;
    while (Date.now() < deadline && child.exitCode === null) {
      if (existsSync(sstate) && readdirSync(sstate, { recursive: true }).map(String).some((f) => f.includes(".tmp."))) {
        sawTemp = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGKILL");
    await new Promise((r) => child.once("close", r));
    expect(sawTemp).toBe(true);
    // whatever was left, no object is visible under its final name
    expect(objectsIn(sstate)).toEqual([]);
    const again = await kiln(root, ["libgreet"]);
    expect(again.code, again.out).toBe(0);
    const [obj] = objectsIn(sstate);
    expect(readFileSync(`${obj}.sha256`, "utf8").trim()).toBe(sha(obj));
  }, 60_000);

  it("two builds sharing SSTATE_DIR at the same time both succeed and leave intact objects", async () => {
    const shared = mkdtempSync(join(tmpdir(), "kiln-e2e-shared-"));
    roots.push(shared);
    const a = layer("", shared);
    const b = layer("", shared);
    const run = (root: string) =>
      new Promise<number>((resolve) => {
        const c = spawn(process.execPath, [BIN, "greeter"], { cwd: join(root, "build"), env: { PATH: process.env.PATH, HOME: "/root" }, stdio: "ignore" });
        c.once("close", (code) => resolve(code ?? -1));
      });
    const codes = await Promise.all([run(a), run(b)]);
    expect(codes).toEqual([0, 0]);
    const objs = objectsIn(shared);
    expect(objs).toHaveLength(2);
    for (const o of objs) expect(readFileSync(`${o}.sha256`, "utf8").trim()).toBe(sha(o));
    expect(readdirSync(shared, { recursive: true }).map(String).filter((f) => f.includes(".tmp."))).toEqual([]);
    // and both restore from it
    rmSync(join(a, "build", "tmp"), { recursive: true, force: true });
    rmSync(join(a, "build", "record"), { force: true });
    expect((await kiln(a, ["greeter"])).record).toEqual([]);
  }, 60_000);
});
