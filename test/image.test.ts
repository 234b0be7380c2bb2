/**
 * Images (@kiln/image), through the CLI: a layer with a shared library (cc, SONAME),
 * a program linking it (its RDEPENDS found by do_package), a script-only package
 * needing a virtual runtime name that another recipe RPROVIDES, a package whose
 * postinst writes under $D and one whose postinst must run on the target. The image
 * is built from .debs (then .ipks, and .rpms when their writer exists) and checked
 * with the real tools: tar lists the image, dpkg reads its database, readelf finds
 * the library the program needs, the program runs from the extracted rootfs.
 * Bad input: names nobody provides, an unmet version, a corrupt package and a
 * package with an escaping member — each a clear error, DEPLOY_DIR_IMAGE untouched.
 * The resolver itself is tested on hand-written pkgdata.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, chownSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clearFileCache, DataStore, KilnError, packTar, writeAr } from "@kiln/core";
import { main } from "@kiln/cli";
// @kiln/image is not a dependency of the workspace root: its build output, by path
import { BUILTIN_IMAGE_TYPES, installPackage, openArPackage, resolvePackages, rpmBackend, satisfies, type OpenedPackage, type ResolveOptions, type RootfsContext } from "../plugins/image/dist/index.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const EPOCH = 1700000000;
const STAMP = "20231114221320"; // SOURCE_DATE_EPOCH as IMAGE_VERSION_SUFFIX spells it
const MACHINE = "qemux86-64";
const has = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
const roots: string[] = [];
afterAll(() => {
  if (!process.env.KILN_KEEP_TMP) for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

const RECIPES: Record<string, string> = {
  "libhello_1.0.bb": `SUMMARY = "hello library"
LICENSE = "MIT"
do_compile() {
	printf '#include <stdio.h>\\nvoid hello(void) { puts("hello from libhello"); }\\n' > hello.c
	printf 'void hello(void);\\n' > hello.h
	cc -shared -fPIC -Wl,-soname,libhello.so.1 -o libhello.so.1.0 hello.c
}
do_install() {
	install -d \${D}\${libdir} \${D}\${includedir}
	install -m 755 libhello.so.1.0 \${D}\${libdir}/
	ln -s libhello.so.1.0 \${D}\${libdir}/libhello.so.1
	ln -s libhello.so.1 \${D}\${libdir}/libhello.so
	install -m 644 hello.h \${D}\${includedir}/
}
`,
  "hello_1.0.bb": `SUMMARY = "says hello"
LICENSE = "MIT"
DEPENDS = "libhello"
do_compile() {
	printf 'void hello(void);\\nint main(void) { hello(); return 0; }\\n' > main.c
	cc -o hello main.c -I\${STAGING_DIR_HOST}\${includedir} -L\${STAGING_DIR_HOST}\${libdir} -lhello
}
do_install() {
	install -d \${D}\${bindir} \${D}\${sysconfdir}
	install -m 755 hello \${D}\${bindir}/
	echo "greeting=hi" > \${D}\${sysconfdir}/hello.conf
}
`,
  "hello-scripts_1.0.bb": `SUMMARY = "scripts that greet"
LICENSE = "MIT"
PACKAGE_ARCH = "all"
PACKAGES =+ "\${PN}-extra"
RDEPENDS:\${PN} = "virtual-greeting"
do_install() {
	install -d \${D}\${bindir}
	printf '#!/bin/sh\\necho "$(cat /usr/share/greeting/text), from a script"\\n' > \${D}\${bindir}/hello-script
	chmod 755 \${D}\${bindir}/hello-script
}
`,
  "english-greeting_1.0.bb": `SUMMARY = "an English greeting"
LICENSE = "MIT"
PACKAGE_ARCH = "all"
RPROVIDES:\${PN} = "virtual-greeting"
FILES:\${PN} += "\${datadir}/greeting"
do_install() {
	install -d \${D}\${datadir}/greeting
	echo "Hello" > \${D}\${datadir}/greeting/text
}
`,
  "setup-ok_1.0.bb": `SUMMARY = "postinst that runs offline"
LICENSE = "MIT"
PACKAGE_ARCH = "all"
do_install() {
	install -d \${D}\${sysconfdir}
	echo "setup" > \${D}\${sysconfdir}/setup-ok.conf
}
pkg_postinst:\${PN}() {
	echo "configured offline" > $D\${sysconfdir}/setup-ok.stamp
}
`,
  "setup-later_1.0.bb": `SUMMARY = "postinst that must run on the target"
LICENSE = "MIT"
PACKAGE_ARCH = "all"
ALLOW_EMPTY:\${PN} = "1"
pkg_postinst:\${PN}() {
	if [ -n "$D" ]; then
		echo "needs the target"
		exit 1
	fi
	echo "configured on target" > /etc/setup-later.stamp
}
`,
  "test-image_1.0.bb": `SUMMARY = "a test image"
IMAGE_INSTALL = "hello hello-scripts setup-ok setup-later"
inherit image
`,
  // errors
  "missing-image_1.0.bb": `IMAGE_INSTALL = "hello no-such-package"\ninherit image\n`,
  // hello-scripts-extra is in PACKAGES (so the task graph resolves it) but empty, so never created
  "wants-extra_1.0.bb": `LICENSE = "MIT"\nPACKAGE_ARCH = "all"\nALLOW_EMPTY:\${PN} = "1"\nRDEPENDS:\${PN} = "hello-scripts-extra"\n`,
  "chain-image_1.0.bb": `IMAGE_INSTALL = "wants-extra"\ninherit image\n`,
  "version-image_1.0.bb": `IMAGE_INSTALL = "hello-scripts (>= 2.0)"\ninherit image\n`,
  // a do_rootfs of a recipe's own (no `inherit image`): the plugin leaves it alone
  "own-rootfs_1.0.bb": `LICENSE = "MIT"\ndo_rootfs() {\n\techo mine > \${WORKDIR}/own-rootfs\n}\naddtask rootfs after do_install before do_build\n`,
  "wrong-type-image_1.0.bb": `IMAGE_PKGTYPE = "no-such-type"\nIMAGE_INSTALL = "hello"\ninherit image\n`,
};

async function layer(local: string): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), "kiln-image-"));
  roots.push(root);
  const write = (rel: string, text: string) => {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  };
  write("build/conf/bblayers.conf", `BBPATH = "\${TOPDIR}"\nBBLAYERS = "\${TOPDIR}/../meta-img"\n`);
  write("build/conf/local.conf", `KILN_PLUGINS += "@kiln/sstate"\nSOURCE_DATE_EPOCH = "${EPOCH}"\n${local}\n`);
  write(
    "meta-img/conf/layer.conf",
    `BBPATH .= ":\${LAYERDIR}"\nBBFILES += "\${LAYERDIR}/recipes/*.bb"\nBBFILE_COLLECTIONS += "img"\nBBFILE_PATTERN_img = "^\${LAYERDIR}/"\nBBFILE_PRIORITY_img = "5"\n`,
  );
  for (const [name, text] of Object.entries(RECIPES)) write(`meta-img/recipes/${name}`, text);
  return root;
}

async function kiln(root: string, args: string[]) {
  clearFileCache();
  let out = "";
  const code = await main(args, { cwd: join(root, "build"), env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/root" }, io: { out: (t) => (out += t), err: (t) => (out += t) } });
  return { code, out };
}

const deployImages = (root: string) => join(root, "build", "tmp", "deploy", "images", MACHINE);
const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");
const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) => execFileSync(cmd, args, { encoding: "utf8", env });
const snapshot = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((f) => [f, sha(join(dir, f))]));

/** Extract an image into a fresh directory with the host's tar. */
function extract(image: string, flag: string): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-image-x-"));
  roots.push(dir);
  run("tar", [flag, "-xf", image, "-C", dir]);
  return dir;
}

const PACKAGES = ["english-greeting", "hello", "hello-scripts", "libhello", "setup-later", "setup-ok"];

describe("images from .deb packages", () => {
  let root = "";
  let built: { code: number; out: string };
  beforeAll(async () => {
    root = await layer(`PACKAGE_CLASSES = "package_deb"\nIMAGE_FSTYPES:pn-test-image = "tar.gz tar.zst"`);
    built = await kiln(root, ["test-image"]);
  }, 60_000);

  it("writes the image files, links and manifest into DEPLOY_DIR_IMAGE", () => {
    expect(built.code, built.out).toBe(0);
    const dir = deployImages(root);
    const name = `test-image-${MACHINE}-${STAMP}`;
    expect(readdirSync(dir).sort()).toEqual(
      [`${name}.manifest`, `${name}.rootfs.tar.gz`, `${name}.rootfs.tar.zst`, `test-image-${MACHINE}.manifest`, `test-image-${MACHINE}.rootfs.tar.gz`, `test-image-${MACHINE}.rootfs.tar.zst`].sort(),
    );
    expect(readlinkSync(join(dir, `test-image-${MACHINE}.rootfs.tar.gz`))).toBe(`${name}.rootfs.tar.gz`);
    expect(readFileSync(join(dir, `test-image-${MACHINE}.manifest`), "utf8")).toBe(
      "english-greeting all 1.0-r0\nhello amd64 1.0-r0\nhello-scripts all 1.0-r0\nlibhello amd64 1.0-r0\nsetup-later all 1.0-r0\nsetup-ok all 1.0-r0\n",
    );
  });

  it("the tarball holds the packages' files (not the -dev ones), root-owned, mtimes at SOURCE_DATE_EPOCH", () => {
    const image = join(deployImages(root), `test-image-${MACHINE}.rootfs.tar.gz`);
    const members = run("tar", ["-tzf", image]).split("\n").filter(Boolean);
    expect(members[0]).toBe("./");
    expect(members).toEqual([...members].sort());
    for (const m of ["./usr/bin/hello", "./usr/lib/libhello.so.1", "./usr/lib/libhello.so.1.0", "./usr/bin/hello-script", "./usr/share/greeting/text", "./etc/hello.conf", "./etc/setup-ok.stamp", "./etc/deb-postinsts/000-setup-later", "./var/lib/dpkg/status", "./var/lib/dpkg/info/hello.list"]) {
      expect(members).toContain(m);
    }
    expect(members.some((m) => m.startsWith("./usr/include") || m === "./usr/lib/libhello.so")).toBe(false);
    const verbose = run("tar", ["--numeric-owner", "--full-time", "-tvzf", image]).split("\n").filter(Boolean);
    for (const line of verbose) expect(line).toMatch(/^\S+ 0\/0 +\d+ 2023-11-14 22:13:20 /);
    // the zstd image has the same members
    expect(run("tar", ["--zstd", "-tf", join(deployImages(root), `test-image-${MACHINE}.rootfs.tar.zst`)]).split("\n").filter(Boolean)).toEqual(members);
  });

  it("dpkg reads the image's database: every package installed, file lists, md5sums", () => {
    const fs = extract(join(deployImages(root), `test-image-${MACHINE}.rootfs.tar.gz`), "-z");
    const list = run("dpkg", [`--root=${fs}`, "-l"]);
    for (const p of PACKAGES) expect(list).toMatch(new RegExp(`^ii  ${p} +1\\.0-r0 `, "m"));
    expect(run("dpkg", ["--root", fs, "-L", "hello"]).split("\n")).toEqual(expect.arrayContaining(["/usr/bin/hello", "/etc/hello.conf"]));
    expect(run("dpkg", ["--root", fs, "-S", "/usr/lib/libhello.so.1.0"])).toMatch(/^libhello: /);
    // md5sums and conffiles agree with the files (dpkg --verify prints nothing and exits 0)
    expect(run("dpkg", ["--root", fs, "--verify"])).toBe("");
    expect(run("dpkg", ["--root", fs, "--audit"])).toBe("");
    expect(run("dpkg", ["--root", fs, "-s", "hello"])).toMatch(/Conffiles:\n \/etc\/hello.conf [0-9a-f]{32}/);
  });

  it("the program finds its library in the rootfs and runs; scripts and the virtual provider are there", () => {
    const fs = extract(join(deployImages(root), `test-image-${MACHINE}.rootfs.tar.gz`), "-z");
    expect(run("readelf", ["-d", join(fs, "usr/bin/hello")])).toMatch(/NEEDED.*\[libhello\.so\.1\]/);
    expect(existsSync(join(fs, "usr/lib/libhello.so.1"))).toBe(true);
    expect(run(join(fs, "usr/bin/hello"), [], { PATH: process.env.PATH, LD_LIBRARY_PATH: join(fs, "usr/lib") })).toBe("hello from libhello\n");
    expect(readFileSync(join(fs, "usr/share/greeting/text"), "utf8")).toBe("Hello\n");
  });

  it("runs the offline postinst with $D and defers the one that needs the target", () => {
    const fs = extract(join(deployImages(root), `test-image-${MACHINE}.rootfs.tar.gz`), "-z");
    expect(readFileSync(join(fs, "etc/setup-ok.stamp"), "utf8")).toBe("configured offline\n");
    const deferred = readFileSync(join(fs, "etc/deb-postinsts/000-setup-later"), "utf8");
    expect(deferred).toMatch(/configured on target/);
    expect(existsSync(join(fs, "etc/setup-later.stamp"))).toBe(false);
    expect(built.out).toMatch(/setup-later: postinst deferred to first boot/);
    expect(run("dpkg", ["--root", fs, "-l", "setup-later"])).toMatch(/^ii  setup-later/m);
  });

  it("is reproducible: the rootfs made again gives the same image bytes", async () => {
    const image = join(deployImages(root), `test-image-${MACHINE}-${STAMP}.rootfs.tar.gz`);
    const before = sha(image);
    const again = await kiln(root, ["-f", "-c", "rootfs", "test-image"]);
    expect(again.code, again.out).toBe(0);
    const rebuilt = await kiln(root, ["test-image"]);
    expect(rebuilt.code, rebuilt.out).toBe(0);
    expect(rebuilt.out).toMatch(/test-image:do_image_complete/);
    expect(sha(image)).toBe(before);
  }, 30_000);

  it("leaves a do_rootfs that is not image.bbclass's to its own body", async () => {
    const own = await kiln(root, ["-c", "rootfs", "own-rootfs"]);
    expect(own.code, own.out).toBe(0);
    expect(readFileSync(join(root, "build", "tmp", "work", "x86_64-kiln-linux", "own-rootfs", "1.0-r0", "own-rootfs"), "utf8")).toBe("mine\n");
  });

  it("comes back from shared state when TMPDIR is wiped: no do_rootfs, same bytes, same links", async () => {
    const image = join(deployImages(root), `test-image-${MACHINE}-${STAMP}.rootfs.tar.gz`);
    const before = sha(image);
    rmSync(join(root, "build", "tmp"), { recursive: true, force: true });
    const again = await kiln(root, ["test-image"]);
    expect(again.code, again.out).toBe(0);
    expect(again.out).toMatch(/test-image:do_image_complete_setscene/);
    expect(again.out).not.toMatch(/test-image:do_rootfs/);
    expect(sha(image)).toBe(before);
    expect(readlinkSync(join(deployImages(root), `test-image-${MACHINE}.rootfs.tar.gz`))).toBe(`test-image-${MACHINE}-${STAMP}.rootfs.tar.gz`);
  }, 30_000);

  it("a name nobody provides is an error naming the chain", async () => {
    const missing = await kiln(root, ["missing-image"]);
    expect(missing.code).not.toBe(0);
    expect(missing.out).toMatch(/Nothing RPROVIDES 'no-such-package' \(needed by missing-image\)/);
    // known to the task graph (hello-scripts' PACKAGES), but no package was made: do_rootfs names the chain
    const chain = await kiln(root, ["chain-image"]);
    expect(chain.code).not.toBe(0);
    expect(chain.out).toMatch(/Nothing RPROVIDES 'hello-scripts-extra' \(needed by chain-image -> wants-extra\)/);
    const version = await kiln(root, ["version-image"]);
    expect(version.code).not.toBe(0);
    expect(version.out).toMatch(/version-image needs hello-scripts \(>= 2\.0\), but hello-scripts is version 1\.0-r0/);
    // an image whose IMAGE_PKGTYPE no package class writes is skipped, saying why
    const wrongType = await kiln(root, ["wrong-type-image"]);
    expect(wrongType.code).not.toBe(0);
    expect(wrongType.out).toMatch(/wrong-type-image was skipped: IMAGE_PKGTYPE = "no-such-type", but PACKAGE_CLASSES \(package_deb\) does not write no-such-type packages/);
  }, 30_000);

  it("a corrupt package or an escaping member is an error naming package and member; DEPLOY_DIR_IMAGE is untouched", async () => {
    const before = snapshot(deployImages(root));
    const deb = join(root, "build", "tmp", "deploy", "deb", "x86_64", "hello_1.0-r0_amd64.deb");
    const good = readFileSync(deb);

    // a member escaping the rootfs, in an otherwise valid .deb of the same name and version
    const control = await collect(packTar([{ name: "./control", path: "", type: "file", mode: 0o644, content: Buffer.from("Package: hello\nVersion: 1.0-r0\nArchitecture: amd64\nDescription: evil\n") }], EPOCH));
    const data = await collect(packTar([{ name: "./usr/bin/hello", path: "", type: "file", mode: 0o755, content: Buffer.from("x") }, { name: "../../escaped", path: "", type: "file", mode: 0o644, content: Buffer.from("x") }], EPOCH));
    writeFileSync(deb, writeAr([{ name: "debian-binary", data: Buffer.from("2.0\n") }, { name: "control.tar.gz", data: gzipSync(control) }, { name: "data.tar.gz", data: gzipSync(data) }], EPOCH));
    const escaping = await kiln(root, ["-f", "-c", "rootfs", "test-image"]);
    expect(escaping.code).not.toBe(0);
    expect(escaping.out).toMatch(/package hello \(.*hello_1\.0-r0_amd64\.deb\): member '\.\.\/\.\.\/escaped' escapes its directory/);
    expect(existsSync(join(root, "build", "tmp", "work", "x86_64-kiln-linux", "test-image", "1.0-r0", "escaped"))).toBe(false);

    // truncated
    writeFileSync(deb, good);
    truncateSync(deb, Math.floor(good.length / 2));
    const corrupt = await kiln(root, ["-f", "-c", "rootfs", "test-image"]);
    expect(corrupt.code).not.toBe(0);
    expect(corrupt.out).toMatch(/package hello \(.*hello_1\.0-r0_amd64\.deb\): .*(runs past the end|cannot be decompressed)/);

    expect(snapshot(deployImages(root))).toEqual(before);
    writeFileSync(deb, good);
  }, 30_000);
});

describe("images from .ipk packages", () => {
  it("installs with opkg's database and the OE postinst layout", async () => {
    const root = await layer(`PACKAGE_CLASSES = "package_ipk"\nPACKAGE_IPK_COMPRESSION = "zst"\nIMAGE_FSTYPES:pn-test-image = "tar.xz"`);
    const built = await kiln(root, ["test-image"]);
    expect(built.code, built.out).toBe(0);
    const image = join(deployImages(root), `test-image-${MACHINE}.rootfs.tar.xz`);
    expect(readFileSync(join(deployImages(root), `test-image-${MACHINE}.manifest`), "utf8")).toBe(
      "english-greeting all 1.0-r0\nhello x86_64 1.0-r0\nhello-scripts all 1.0-r0\nlibhello x86_64 1.0-r0\nsetup-later all 1.0-r0\nsetup-ok all 1.0-r0\n",
    );
    const fs = extract(image, "-J");
    const status = readFileSync(join(fs, "var/lib/opkg/status"), "utf8");
    expect(status.split("\n\n").map((s) => /^Package: (.*)$/m.exec(s)?.[1])).toEqual(PACKAGES);
    expect(status).toMatch(/Package: hello\nVersion: 1\.0-r0\nDepends: libhello\nStatus: install user installed\nArchitecture: x86_64\n/);
    expect(status).toMatch(/Package: libhello\nVersion: 1\.0-r0\nStatus: install ok installed\n/);
    expect(readFileSync(join(fs, "var/lib/opkg/info/hello.list"), "utf8")).toBe("/etc/hello.conf\n/usr/bin/hello\n");
    expect(readFileSync(join(fs, "var/lib/opkg/info/hello.control"), "utf8")).toMatch(/^Package: hello\n/);
    expect(readFileSync(join(fs, "etc/setup-ok.stamp"), "utf8")).toBe("configured offline\n");
    expect(existsSync(join(fs, "etc/ipk-postinsts/000-setup-later"))).toBe(true);
    expect(run(join(fs, "usr/bin/hello"), [], { PATH: process.env.PATH, LD_LIBRARY_PATH: join(fs, "usr/lib") })).toBe("hello from libhello\n");
  }, 60_000);
});

describe("images from .rpm packages", () => {
  it("installs the payloads and records them with rpm", async () => {
    const root = await layer(`PACKAGE_CLASSES = "package_rpm"`);
    const built = await kiln(root, ["test-image"]);
    expect(built.code, built.out).toBe(0);
    const manifest = readFileSync(join(deployImages(root), `test-image-${MACHINE}.manifest`), "utf8");
    for (const p of PACKAGES) expect(manifest).toMatch(new RegExp(`^${p} \\S+ \\S+$`, "m"));
    const fs = extract(join(deployImages(root), `test-image-${MACHINE}.rootfs.tar.gz`), "-z");
    expect(readFileSync(join(fs, "etc/setup-ok.stamp"), "utf8")).toBe("configured offline\n");
    expect(existsSync(join(fs, "etc/rpm-postinsts/000-setup-later"))).toBe(true);
    expect(run(join(fs, "usr/bin/hello"), [], { PATH: process.env.PATH, LD_LIBRARY_PATH: join(fs, "usr/lib") })).toBe("hello from libhello\n");
    const qa = run("rpm", ["--root", fs, "--dbpath", "/var/lib/rpm", "-qa", "--qf", "%{NAME}\\n"]).split("\n").filter(Boolean).sort();
    expect(qa).toEqual(PACKAGES);
    // sizes, digests, modes and mtimes agree with the rpm headers (setup-ok.stamp and the deferred script belong to no package)
    expect(run("rpm", ["--root", fs, "--dbpath", "/var/lib/rpm", "-V", "--nodeps", "-a"])).toBe("");
  }, 60_000);
});

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe("package set resolution (pkgdata)", () => {
  /** A pkgdata dir: package → KEY: value lines (PKGV/PKGR default 1.0/r0). */
  function pkgdata(packages: Record<string, Record<string, string>>): string {
    const dir = mkdtempSync(join(tmpdir(), "kiln-pkgdata-"));
    roots.push(dir);
    mkdirSync(join(dir, "runtime"), { recursive: true });
    for (const [pkg, vars] of Object.entries(packages)) {
      const all: Record<string, string> = { PKGV: "1.0", PKGR: "r0", ...vars };
      writeFileSync(join(dir, "runtime", pkg), `PN: ${pkg}\n${Object.entries(all).map(([k, v]) => `${k}:${pkg}: ${v}`).join("\n")}\n`);
      for (const name of (all.RPROVIDES ?? "").replace(/\([^)]*\)/g, "").split(/\s+/).filter(Boolean)) {
        mkdirSync(join(dir, "runtime-rprovides", name), { recursive: true });
        writeFileSync(join(dir, "runtime-rprovides", name, pkg), "");
      }
    }
    return dir;
  }
  const options = (dir: string, o: Partial<ResolveOptions> = {}): ResolveOptions => ({
    pkgdataDir: dir,
    image: "img",
    recommends: true,
    badRecommendations: new Set(),
    exclude: new Set(),
    preferredProvider: () => undefined,
    unversionedProvideSatisfies: false,
    log: () => undefined,
    ...o,
  });
  const names = (dir: string, install: string, o: Partial<ResolveOptions> = {}) => resolvePackages(install, options(dir, o)).map((p) => p.pkg);
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      return [(err as KilnError).code, (err as Error).message];
    }
    return undefined;
  };

  it("orders dependencies first, follows recommendations unless told not to", () => {
    const dir = pkgdata({
      app: { RDEPENDS: "lib (>= 1.0)", RRECOMMENDS: "extra bad missing-rec" },
      lib: { RDEPENDS: "base" },
      base: {},
      extra: {},
      bad: {},
    });
    expect(names(dir, "app", { badRecommendations: new Set(["bad"]) })).toEqual(["base", "lib", "extra", "app"]);
    expect(names(dir, "app", { recommends: false })).toEqual(["base", "lib", "app"]);
    const cycle = pkgdata({ a: { RDEPENDS: "b" }, b: { RDEPENDS: "a" } });
    expect(names(cycle, "a").sort()).toEqual(["a", "b"]);
  });

  it("virtual names through RPROVIDES, with versions, preferred providers and PACKAGE_EXCLUDE", () => {
    const dir = pkgdata({
      user: { RDEPENDS: "virtual-x (>= 2)" },
      prov1: { RPROVIDES: "virtual-x (= 2.5)" },
      prov2: { RPROVIDES: "virtual-x" },
    });
    expect(names(dir, "user")).toEqual(["prov1", "user"]);
    expect(code(() => names(dir, "user", { preferredProvider: () => "prov2" }))).toEqual(["DEPENDENCY_ERROR", expect.stringMatching(/prov2 provides 'virtual-x' without a version/)]);
    expect(names(dir, "user", { preferredProvider: () => "prov2", unversionedProvideSatisfies: true })).toEqual(["prov2", "user"]);
    expect(code(() => names(dir, "user", { exclude: new Set(["prov1"]) }))).toEqual(["DEPENDENCY_ERROR", expect.stringMatching(/prov1 is in PACKAGE_EXCLUDE, but img -> user needs it/)]);
  });

  it("missing names, unmet versions and conflicts are errors naming the chain", () => {
    const dir = pkgdata({ a: { RDEPENDS: "b" }, b: { RDEPENDS: "c (<< 1.0)" }, c: {}, d: { RCONFLICTS: "c" } });
    expect(code(() => names(dir, "a x"))).toEqual(["DEPENDENCY_ERROR", "Nothing RPROVIDES 'x' (needed by img)"]);
    expect(code(() => names(dir, "a"))).toEqual(["DEPENDENCY_ERROR", "img -> a -> b needs c (<< 1.0), but c is version 1.0-r0"]);
    const deep = pkgdata({ a: { RDEPENDS: "b" }, b: { RDEPENDS: "gone" } });
    expect(code(() => names(deep, "a"))).toEqual(["DEPENDENCY_ERROR", "Nothing RPROVIDES 'gone' (needed by img -> a -> b)"]);
    const conflict = pkgdata({ c: {}, d: { RCONFLICTS: "c" } });
    expect(code(() => names(conflict, "c d"))?.[1]).toMatch(/d conflicts with c, which img -> c installs/);
  });

  it("compares versions as BitBake and dpkg do", () => {
    expect(satisfies("1.0-r0", ">= 1.0")).toBe(true);
    expect(satisfies("1.0-r0", "= 1.0")).toBe(true);
    expect(satisfies("1.0-r0", "= 1.0-r1")).toBe(false);
    expect(satisfies("1.0-r0", "<< 1.0.1")).toBe(true);
    expect(satisfies("1.0~rc1-r0", "< 1.0")).toBe(true);
    expect(satisfies("1:0.5-r0", "> 2.0")).toBe(true);
    expect(satisfies("2.10-r0", ">> 2.9")).toBe(true);
  });
});

describe("installing into the rootfs", () => {
  /** A package whose payload is the tree `make` writes. */
  const fake = (name: string, make: (dest: string) => void): OpenedPackage => ({
    file: `/feed/${name}.deb`,
    name,
    version: "1.0-r0",
    arch: "all",
    control: `Package: ${name}\n`,
    scripts: {},
    conffiles: [],
    extra: {},
    extract: async (dest) => make(dest),
    members: async () => new Map([["tmp", { mode: 0o1777, mtime: EPOCH }]]),
  });
  const tmp = () => {
    const dir = mkdtempSync(join(tmpdir(), "kiln-rootfs-"));
    roots.push(dir);
    mkdirSync(join(dir, "rootfs"));
    return dir;
  };

  it("the image's tar (GNU tar, OE's reproducible options) keeps owners by number, hard links and mtimes at SOURCE_DATE_EPOCH; a failing tar is an error naming it", async () => {
    const rootfs = join(tmp(), "rootfs");
    mkdirSync(join(rootfs, "usr", "bin"), { recursive: true });
    writeFileSync(join(rootfs, "usr", "bin", "chage"), "#!/bin/sh\n");
    writeFileSync(join(rootfs, "usr", "bin", "perl"), "#!/bin/sh\n");
    linkSync(join(rootfs, "usr", "bin", "perl"), join(rootfs, "usr", "bin", "perl5.36.0"));
    const asRoot = process.getuid?.() === 0;
    // a setgid shadow program, as a Debian rootfs assembled as root has (only root can give files away)
    if (asRoot) {
      chownSync(join(rootfs, "usr", "bin", "chage"), 0, 42);
      chmodSync(join(rootfs, "usr", "bin", "chage"), 0o2755);
    }
    const d = new DataStore();
    d.setVar("SOURCE_DATE_EPOCH", String(EPOCH));
    const write = (type: string, from: string, to: string) => BUILTIN_IMAGE_TYPES.find((t) => t.type === type)!.write(from, to, d, new AbortController().signal);
    const image = join(dirname(rootfs), "image.tar");
    await write("tar", rootfs, image);
    const listing = run("tar", ["--numeric-owner", "--full-time", "-tvf", image]).split("\n").filter(Boolean);
    const byName = Object.fromEntries(listing.map((l) => [l.split(/\s+/)[5], l]));
    expect(Object.keys(byName)[0]).toBe("./");
    // what this process owns is root's; other owners stay
    expect(byName["./usr/bin/perl"]).toMatch(/^-\S+ 0\/0 .* 2023-11-14 22:13:20 /);
    expect(byName["./usr/bin/chage"]).toMatch(asRoot ? /^-rwxr-sr-x 0\/42 / : /^-\S+ 0\/0 /);
    expect(byName["./usr/bin/perl5.36.0"]).toMatch(/^h.* link to \.\/usr\/bin\/perl$/);
    // the same tree gives the same bytes, compressed too
    const again = join(dirname(rootfs), "again.tar");
    await write("tar", rootfs, again);
    expect(readFileSync(again).equals(readFileSync(image))).toBe(true);
    await write("tar.zst", rootfs, `${image}.zst`);
    expect(run("tar", ["--zstd", "-tf", `${image}.zst`]).split("\n").filter(Boolean)).toEqual(listing.map((l) => l.split(/\s+/)[5]));
    await expect(write("tar.zst", join(rootfs, "missing"), join(dirname(rootfs), "bad.tar.zst"))).rejects.toThrow(/image tar\.zst of .*missing: tar failed \(exit 2\): .*Cannot/);
  });

  it("merges packages, keeps directory modes, refuses shared files and paths through links leading out", async () => {
    const dir = tmp();
    const rootfs = join(dir, "rootfs");
    const owners = new Map<string, string>();
    const a = fake("a", (d) => {
      mkdirSync(join(d, "tmp"));
      mkdirSync(join(d, "usr/lib"), { recursive: true });
      writeFileSync(join(d, "usr/lib/liba"), "a");
      symlinkSync("usr/lib", join(d, "lib"));
      symlinkSync("..", join(d, "usr/up")); // -> the rootfs itself: allowed
    });
    const files = await installPackage(a, rootfs, join(dir, "staging"), owners);
    expect(files.map((f) => `${f.type} ${f.path}`)).toEqual(["symlink /lib", "directory /tmp", "directory /usr", "directory /usr/lib", "file /usr/lib/liba", "symlink /usr/up"]);
    expect(statSync(join(rootfs, "tmp")).mode & 0o7777).toBe(0o1777);
    expect(statSync(join(rootfs, "tmp")).mtimeMs).toBe(EPOCH * 1000);
    // a file through a directory link another package made lands where the link points
    await installPackage(fake("b", (d) => { mkdirSync(join(d, "lib"), { recursive: true }); writeFileSync(join(d, "lib/libb"), "b"); }), rootfs, join(dir, "staging"), owners);
    expect(readFileSync(join(rootfs, "usr/lib/libb"), "utf8")).toBe("b");
    // the same file in two packages
    const clash = installPackage(fake("c", (d) => { mkdirSync(join(d, "usr/lib"), { recursive: true }); writeFileSync(join(d, "usr/lib/liba"), "c"); }), rootfs, join(dir, "staging"), owners);
    await expect(clash).rejects.toThrow("package c (/feed/c.deb): member './usr/lib/liba' would overwrite /usr/lib/liba, which is also in package a");
    // usr/up/.. is inside the rootfs by its name, outside by the link: refused before anything is written there
    mkdirSync(join(dir, "outside"));
    const out = installPackage(fake("d", (d) => { mkdirSync(join(d, "usr/up/usr/up/outside"), { recursive: true }); writeFileSync(join(d, "usr/up/usr/up/outside/x"), "x"); }), rootfs, join(dir, "staging"), owners);
    await expect(out).resolves.toBeDefined(); // usr/up/usr/up is the rootfs again: still inside
    expect(existsSync(join(dir, "outside", "x"))).toBe(false);
    symlinkSync("../..", join(rootfs, "escape"));
    const escape = installPackage(fake("e", (d) => { mkdirSync(join(d, "escape/outside"), { recursive: true }); writeFileSync(join(d, "escape/outside/x"), "x"); }), rootfs, join(dir, "staging"), owners);
    // `..` at the root stays there, as in a chroot: escape/outside/x is the rootfs's /outside/x, d's
    await expect(escape).rejects.toThrow("package e (/feed/e.deb): member './escape/outside/x' would overwrite /outside/x, which is also in package d");
    expect(existsSync(join(dir, "outside", "x"))).toBe(false);
    // an absolute directory link is followed from the rootfs's own root, as in a chroot
    const hostPath = join(dir, "host-only");
    await installPackage(fake("f", (d) => { mkdirSync(join(d, "run"), { recursive: true }); mkdirSync(join(d, "var"), { recursive: true }); symlinkSync("/run", join(d, "var/run")); }), rootfs, join(dir, "staging"), owners);
    await installPackage(fake("g", (d) => { mkdirSync(join(d, "var/run"), { recursive: true }); writeFileSync(join(d, "var/run/g.pid"), "1"); }), rootfs, join(dir, "staging"), owners);
    expect(readFileSync(join(rootfs, "run/g.pid"), "utf8")).toBe("1");
    expect(existsSync("/run/g.pid") && readFileSync("/run/g.pid", "utf8") === "1").toBe(false);
    // the same file by two names (a link between): one file, two packages
    const twice = installPackage(fake("h", (d) => { mkdirSync(join(d, "run"), { recursive: true }); writeFileSync(join(d, "run/g.pid"), "2"); }), rootfs, join(dir, "staging"), owners);
    await expect(twice).rejects.toThrow("member './run/g.pid' would overwrite /run/g.pid, which is also in package g");
    symlinkSync(hostPath, join(rootfs, "abs-out"));
    const absOut = installPackage(fake("i", (d) => { mkdirSync(join(d, "abs-out"), { recursive: true }); writeFileSync(join(d, "abs-out/x"), "x"); }), rootfs, join(dir, "staging"), owners);
    await expect(absOut).rejects.toThrow(/member '\.\/abs-out' would be installed below \/.*, which does not exist/); // resolved inside the rootfs, where that host path is not
    expect(existsSync(hostPath)).toBe(false);
  });

  it("resolves `..` where a path really is (/t -> s/../share with /s -> usr/lib lands in /usr/share) and applies a read-only directory mode after its contents", async () => {
    const dir = tmp();
    const rootfs = join(dir, "rootfs");
    const owners = new Map<string, string>();
    await installPackage(fake("links", (d) => { mkdirSync(join(d, "usr/lib"), { recursive: true }); mkdirSync(join(d, "usr/share"), { recursive: true }); symlinkSync("usr/lib", join(d, "s")); symlinkSync("s/../share", join(d, "t")); }), rootfs, join(dir, "staging"), owners);
    await installPackage(fake("user", (d) => { mkdirSync(join(d, "t"), { recursive: true }); writeFileSync(join(d, "t/file"), "f"); }), rootfs, join(dir, "staging"), owners);
    expect(readFileSync(join(rootfs, "usr/share/file"), "utf8")).toBe("f");
    expect(existsSync(join(rootfs, "share"))).toBe(false);
    const ro = fake("ro", (d) => { mkdirSync(join(d, "ro"), { recursive: true }); writeFileSync(join(d, "ro/inside"), "i"); });
    ro.members = async () => new Map([["ro", { mode: 0o555, mtime: EPOCH }]]);
    await installPackage(ro, rootfs, join(dir, "staging"), owners);
    expect(statSync(join(rootfs, "ro")).mode & 0o777).toBe(0o555);
    expect(readFileSync(join(rootfs, "ro/inside"), "utf8")).toBe("i");
  });

  it("installs a package's absolute symlinks as they are (/etc/mtab -> /proc/mounts), and never writes through a link of the package", async () => {
    const dir = tmp();
    const rootfs = join(dir, "rootfs");
    const debOf = async (name: string, members: Parameters<typeof packTar>[0]) => {
      const control = await collect(packTar([{ name: "./control", path: "", type: "file", mode: 0o644, content: Buffer.from(`Package: ${name}\nVersion: 1\nArchitecture: all\nDescription: t\n`) }], EPOCH));
      const file = join(dir, `${name}.deb`);
      writeFileSync(file, writeAr([{ name: "debian-binary", data: Buffer.from("2.0\n") }, { name: "control.tar.gz", data: gzipSync(control) }, { name: "data.tar.gz", data: gzipSync(await collect(packTar(members, EPOCH))) }], EPOCH));
      return openArPackage(file, name);
    };
    const base = await debOf("base-files", [
      { name: "./etc/", path: "", type: "directory", mode: 0o755 },
      { name: "./etc/mtab", path: "", type: "symlink", mode: 0o777, linkname: "/proc/mounts" },
      { name: "./etc/hostname", path: "", type: "file", mode: 0o644, content: Buffer.from("kiln\n") },
    ]);
    await installPackage(base, rootfs, join(dir, "staging"), new Map());
    expect(readlinkSync(join(rootfs, "etc/mtab"))).toBe("/proc/mounts");
    expect(readFileSync(join(rootfs, "etc/hostname"), "utf8")).toBe("kiln\n");
    // a link of the package, then a member below it: refused before anything lands outside
    mkdirSync(join(dir, "outside"));
    const evil = await debOf("evil", [
      { name: "./up", path: "", type: "symlink", mode: 0o777, linkname: join(dir, "outside") },
      { name: "./up/x", path: "", type: "file", mode: 0o644, content: Buffer.from("x") },
    ]);
    await expect(installPackage(evil, rootfs, join(dir, "staging"), new Map())).rejects.toThrow("package evil (" + join(dir, "evil.deb") + "): member './up/x' would be extracted through the symlink 'up'");
    expect(readdirSync(join(dir, "outside"))).toEqual([]);
  });

  it("gives the payload back through releasePayload once extracted, and decompresses it again for a later extract", async () => {
    const dir = tmp();
    const payload = await collect(packTar([{ name: "./f", path: "", type: "file", mode: 0o644, content: Buffer.from("x") }], EPOCH));
    const control = await collect(packTar([{ name: "./control", path: "", type: "file", mode: 0o644, content: Buffer.from("Package: r\nVersion: 1\nArchitecture: all\nDescription: t\n") }], EPOCH));
    const file = join(dir, "r.deb");
    writeFileSync(file, writeAr([{ name: "debian-binary", data: Buffer.from("2.0\n") }, { name: "control.tar.gz", data: gzipSync(control) }, { name: "data.tar.gz", data: gzipSync(payload) }], EPOCH));
    const released: Buffer[] = [];
    let decompressed = 0;
    const opened = await openArPackage(file, "r", {
      decompressPayload: async (data) => (decompressed++, gunzipSync(data)),
      extractPayload: async (tar, dest) => writeFileSync(join(dest, "seen"), String(tar.length)),
      releasePayload: (tar) => released.push(tar),
    });
    await opened.extract(dir);
    expect(released.map((b) => b.length)).toEqual([payload.length]);
    await opened.extract(dir);
    expect(decompressed).toBe(2);
    expect(released.length).toBe(2);
  });
});

describe("the rpm adapter on rpmbuild's packages", () => {
  it("reads header, scriptlets, config files and gzip/xz/zstd payloads; rpm records the install", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kiln-rpm-"));
    roots.push(dir);
    mkdirSync(join(dir, "files/usr/bin"), { recursive: true });
    mkdirSync(join(dir, "files/etc"), { recursive: true });
    writeFileSync(join(dir, "files/usr/bin/hi"), "#!/bin/sh\necho hi\n");
    chmodSync(join(dir, "files/usr/bin/hi"), 0o755);
    symlinkSync("hi", join(dir, "files/usr/bin/hi-link"));
    writeFileSync(join(dir, "files/etc/hi.conf"), "conf\n");
    writeFileSync(
      join(dir, "hi.spec"),
      `Name: hi\nVersion: 1.0\nRelease: r0\nEpoch: 2\nSummary: says hi\nLicense: MIT\nBuildArch: noarch\n%description\nsays hi\n%install\nmkdir -p %{buildroot} && cp -a ${dir}/files/. %{buildroot}/\n%post\necho "post" > $D/etc/hi.stamp\n%files\n/usr/bin/hi\n/usr/bin/hi-link\n%config /etc/hi.conf\n`,
    );
    for (const payload of ["w9.gzdio", "w2.xzdio", "w3.zstdio"]) {
      const top = join(dir, payload);
      run("rpmbuild", ["--define", `_topdir ${top}`, "--define", `_binary_payload ${payload}`, "--define", "_build_id_links none", "-bb", join(dir, "hi.spec")]);
      const file = join(top, "RPMS/noarch/hi-1.0-r0.noarch.rpm");
      const backend = rpmBackend("test");
      const opened = await backend.open(file, { name: "hi" } as never, {} as RootfsContext);
      expect([opened.name, opened.version, opened.arch]).toEqual(["hi", "2:1.0-r0", "noarch"]);
      expect(opened.conffiles).toEqual(["/etc/hi.conf"]);
      expect(opened.scripts.postinst).toMatch(/^#!\/bin\/sh\necho "post" > \$D\/etc\/hi.stamp/);
      const rootfs = join(top, "rootfs");
      mkdirSync(rootfs);
      const files = await installPackage(opened, rootfs, join(top, "staging"), new Map());
      expect(files.filter((f) => f.type !== "directory").map((f) => f.path)).toEqual(["/etc/hi.conf", "/usr/bin/hi", "/usr/bin/hi-link"]);
      expect(readlinkSync(join(rootfs, "usr/bin/hi-link"))).toBe("hi");
      expect(statSync(join(rootfs, "usr/bin/hi")).mode & 0o777).toBe(0o755);
      const log: string[] = [];
      const rc = { d: { getVar: () => "test" }, ctx: { log: (l: string) => log.push(l), warn: (l: string) => log.push(l), signal: new AbortController().signal }, rootfs, deployDir: top, epoch: EPOCH } as unknown as RootfsContext;
      await backend.writeDatabase([{ resolved: {} as never, opened, files, deferred: false }], rc);
      expect(readdirSync(join(rootfs, "var/lib/rpm")).filter((f) => /-wal$|-shm$|lock/.test(f))).toEqual([]);
      expect(run("rpm", ["--root", rootfs, "--dbpath", "/var/lib/rpm", "-qa"]).trim()).toBe("hi-1.0-r0.noarch");
      expect(run("rpm", ["--root", rootfs, "--dbpath", "/var/lib/rpm", "-V", "--nodeps", "hi"])).toBe("");
    }
  });
});
