/**
 * Issue #7, packaging through the CLI and the real classes: do_package splits ${D}
 * by PACKAGES/FILES (OE's defaults), finds shared-library dependencies from ELF
 * NEEDED entries, drops empty packages, warns about unshipped files; the deb and ipk
 * writers produce packages dpkg, dpkg-deb, lintian, ar, tar, rpm and rpm2cpio accept,
 * with feeds.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTree, type BuildTree } from "./helpers/build-tree.js";

const LIB = `SUMMARY = "greeting library"
DESCRIPTION = "Says hello.\\nTwo lines of description."
LICENSE = "MIT"
do_compile() {
	printf '#include <stdio.h>\\nvoid greet(void) { puts("hello from libgreet"); }\\n' > greet.c
	printf 'void greet(void);\\n' > greet.h
	cc -shared -fPIC -Wl,-soname,libgreet.so.1 -o libgreet.so.1.0 greet.c
	cc -c greet.c -o greet.o && ar rcs libgreet.a greet.o
}
do_install() {
	install -d \${D}\${libdir} \${D}\${includedir} \${D}\${docdir}/libgreet
	install -m 755 libgreet.so.1.0 \${D}\${libdir}/
	ln -s libgreet.so.1.0 \${D}\${libdir}/libgreet.so.1
	ln -s libgreet.so.1 \${D}\${libdir}/libgreet.so
	install -m 644 libgreet.a \${D}\${libdir}/
	install -m 644 greet.h \${D}\${includedir}/
	echo "docs" > \${D}\${docdir}/libgreet/README
	mkdir -p \${D}/opt && echo stray > \${D}/opt/stray
}
ALLOW_EMPTY:\${PN}-locale = "1"
`;

const APP = `SUMMARY = "says hello"
DESCRIPTION = "A program that prints a greeting with the help of libgreet."
LICENSE = "MIT"
DEPENDS = "libgreet"
PE = "2"
PV = "1.0~rc1"
RRECOMMENDS:\${PN} = "greet-words (>= 1.0)"
RPROVIDES:\${PN} = "hello-sayer"
CONFFILES:\${PN} = "\${sysconfdir}/greeter.conf"
do_compile() {
	printf 'void greet(void);\\nint main(void) { greet(); return 0; }\\n' > main.c
	cc -o greeter main.c -I\${STAGING_DIR_HOST}\${includedir} -L\${STAGING_DIR_HOST}\${libdir} -lgreet
}
do_install() {
	install -d \${D}\${bindir} \${D}\${sysconfdir}
	install -m 755 greeter \${D}\${bindir}/
	echo "x=1" > \${D}\${sysconfdir}/greeter.conf
}
pkg_postinst:\${PN}() {
	echo "configured" > "$DPKG_ROOT/greeter-configured"
}
`;

const WORDS = `SUMMARY = "words"
LICENSE = "MIT"
PACKAGE_ARCH = "all"
do_install() {
	install -d \${D}\${datadir}/greet-words
	echo hello > \${D}\${datadir}/greet-words/words
}
`;

let t: BuildTree;
let out = "";
const deployed = (type: string, arch: string) => join(t.build, "tmp", "deploy", type, arch);

beforeAll(async () => {
  t = buildTree({ local: `KILN_PLUGINS += "@kiln/sstate"\nPACKAGE_CLASSES = "package_deb package_ipk package_rpm"\nSOURCE_DATE_EPOCH = "1700000000"\n` });
  t.recipe("libgreet_1.0.bb", LIB);
  t.recipe("greeter_1.0.bb", APP);
  t.recipe("greet-words_1.0.bb", WORDS);
  const r = await t.kiln(["greeter", "libgreet", "greet-words"]);
  out = r.all;
  expect(r.code, r.all).toBe(0);
}, 120_000);
afterAll(() => t.remove());

const pkgdata = (file: string) => readFileSync(join(t.build, "tmp", "pkgdata", "qemux86-64", file), "utf8");

describe("do_package", () => {
  it("splits by PACKAGES and FILES in priority order, dropping empty packages unless ALLOW_EMPTY", () => {
    expect(pkgdata("libgreet")).toBe("PACKAGES: libgreet-staticdev libgreet-dev libgreet-doc libgreet-locale libgreet\n");
    const files = (pkg: string) => Object.keys(JSON.parse(/^FILES_INFO:[^:]+: (.*)$/m.exec(pkgdata(`runtime/${pkg}`))?.[1] ?? "{}"));
    expect(files("libgreet").filter((f) => f.includes(".so"))).toEqual(["/usr/lib/libgreet.so.1", "/usr/lib/libgreet.so.1.0"]);
    expect(files("libgreet-dev")).toEqual(expect.arrayContaining(["/usr/include/greet.h", "/usr/lib/libgreet.so"]));
    expect(files("libgreet-dev")).not.toContain("/usr/lib/libgreet.so.1");
    expect(files("libgreet-staticdev")).toEqual(["/usr/lib/libgreet.a"]);
    expect(files("libgreet-doc")).toContain("/usr/share/doc/libgreet/README");
    expect(files("libgreet-locale")).toEqual([]);
    expect(existsIn(deployed("deb", "x86_64"), /^libgreet-dbg/)).toBe(false);
    expect(existsIn(deployed("deb", "x86_64"), /^libgreet-locale_1\.0-r0_amd64\.deb$/)).toBe(true);
  });

  it("warns about installed files no package ships, naming them", () => {
    expect(out).toMatch(/QA Issue: libgreet: Files\/directories were installed but not shipped in any package:\n\s+\/opt\/stray/);
  });

  it("adds a runtime dependency on the package providing a NEEDED shared library", () => {
    expect(pkgdata("runtime/greeter")).toMatch(/^RDEPENDS:greeter: libgreet$/m);
    expect(pkgdata("shlibs2/libgreet.list")).toBe("libgreet.so.1:libgreet:1.0\n");
  });
});

function existsIn(dir: string, re: RegExp): boolean {
  return readdirSync(dir).some((f) => re.test(f));
}

const dpkgDeb = (...args: string[]) => execFileSync("dpkg-deb", args, { encoding: "utf8" });

describe("package_deb", () => {
  it("writes control fields dpkg-deb reads: epoch and ~ versions, shlib and -dev dependencies, recommends, provides, conffiles", () => {
    const app = join(deployed("deb", "x86_64"), "greeter_1.0~rc1-r0_amd64.deb");
    const info = dpkgDeb("--info", app);
    expect(info).toMatch(/^ Version: 2:1\.0~rc1-r0$/m);
    expect(info).toMatch(/^ Depends: libgreet$/m);
    expect(info).toMatch(/^ Recommends: greet-words \(>= 1\.0\)$/m);
    expect(info).toMatch(/^ Provides: hello-sayer$/m);
    expect(info).toMatch(/^ Architecture: amd64$/m);
    expect(dpkgDeb("--info", app, "conffiles")).toBe("/etc/greeter.conf\n");
    const dev = dpkgDeb("--field", join(deployed("deb", "x86_64"), "libgreet-dev_1.0-r0_amd64.deb"), "Depends", "Section");
    expect(dev).toBe("Depends: libgreet (= 1.0-r0)\nSection: devel\n");
    expect(dpkgDeb("--contents", join(deployed("deb", "all"), "greet-words_1.0-r0_all.deb"))).toMatch(/root\/root .* \.\/usr\/share\/greet-words\/words$/m);
  });

  it("keeps an apt index of each architecture directory", () => {
    const index = readFileSync(join(deployed("deb", "x86_64"), "Packages"), "utf8");
    const stanzas = index.split("\n\n").filter(Boolean);
    expect(stanzas.map((s) => /^Package: (.*)$/m.exec(s)?.[1]).sort()).toEqual(["greeter", "libgreet", "libgreet-dev", "libgreet-doc", "libgreet-locale", "libgreet-staticdev"]);
    const greeter = stanzas.find((s) => s.startsWith("Package: greeter\n")) ?? "";
    const file = join(deployed("deb", "x86_64"), "greeter_1.0~rc1-r0_amd64.deb");
    expect(greeter).toContain(`Size: ${readFileSync(file).length}\n`);
    expect(greeter).toMatch(/^Filename: \.\/greeter_1\.0~rc1-r0_amd64\.deb$/m);
    expect(greeter).toMatch(/^SHA256: [0-9a-f]{64}$/m);
    expect(execFileSync("gzip", ["-dc", join(deployed("deb", "x86_64"), "Packages.gz")], { encoding: "utf8" })).toBe(index);
  });

  it("installs into a fresh root with dpkg, dependencies first, and runs the postinst", () => {
    const root = join(t.root, "rootfs");
    for (const d of ["var/lib/dpkg/info", "var/lib/dpkg/updates"]) mkdirSync(join(root, d), { recursive: true });
    writeFileSync(join(root, "var/lib/dpkg/status"), "");
    const dpkg = (...args: string[]) =>
      execFileSync("dpkg", [`--root=${root}`, "--force-script-chrootless", "--force-not-root", "--log=/dev/null", ...args], { encoding: "utf8", stdio: "pipe" });
    const deb = (name: string) => join(deployed("deb", name.startsWith("greet-") ? "all" : "x86_64"), readdirSync(deployed("deb", name.startsWith("greet-") ? "all" : "x86_64")).find((f) => f.startsWith(`${name}_`)) ?? "");
    expect(() => dpkg("-i", deb("greeter"))).toThrow(/libgreet/);
    dpkg("-i", deb("libgreet"), deb("greeter"), deb("greet-words"));
    expect(dpkg("--status", "greeter")).toMatch(/^Status: install ok installed$/m);
    expect(readFileSync(join(root, "greeter-configured"), "utf8")).toBe("configured\n");
    const run = execFileSync(join(root, "usr/bin/greeter"), { env: { LD_LIBRARY_PATH: join(root, "usr/lib") }, encoding: "utf8" });
    expect(run).toBe("hello from libgreet\n");
  });

  it("passes lintian without errors (tags that do not apply to a non-Debian distribution suppressed)", () => {
    // not Debian: no copyright file or changelog in /usr/share/doc, maintainer not a Debian one,
    // no man page for a demo program, the test's binary is built without hardening flags,
    // and libc comes from the host (the distribution has no libc recipe to depend on)
    const suppressed = [
      "no-copyright-file", "debian-changelog-file-missing", "no-manual-page", "hardening-no-fortify-functions",
      "hardening-no-relro", "hardening-no-pie", "extended-description-is-probably-too-short", "maintainer-address-is-on-localhost",
      "maintainer-address-malformed", "unstripped-binary-or-object", "binary-without-manpage", "description-synopsis-starts-with-article",
      "extended-description-line-too-long", "missing-dependency-on-libc",
    ];
    const app = join(deployed("deb", "x86_64"), "greeter_1.0~rc1-r0_amd64.deb");
    let report = "";
    try {
      report = execFileSync("lintian", ["--no-tag-display-limit", `--suppress-tags=${suppressed.join(",")}`, app], { encoding: "utf8", stdio: "pipe" });
    } catch (err) {
      report = String((err as { stdout?: string }).stdout ?? "") + String((err as { stderr?: string }).stderr ?? "");
    }
    expect(report.split("\n").filter((l) => l.startsWith("E:"))).toEqual([]);
  });
});

describe("package_ipk", () => {
  it("writes ar archives of debian-binary, control.tar and data.tar with opkg's fields", () => {
    const ipk = join(deployed("ipk", "x86_64"), "greeter_1.0~rc1-r0_x86_64.ipk");
    expect(execFileSync("ar", ["t", ipk], { encoding: "utf8" })).toBe("debian-binary\ncontrol.tar.xz\ndata.tar.xz\n");
    const control = execFileSync("sh", ["-c", `ar p '${ipk}' control.tar.xz | tar -xJOf - ./control`], { encoding: "utf8" });
    expect(control).toMatch(/^Package: greeter\nVersion: 2:1\.0~rc1-r0\n/);
    expect(control).toMatch(/^Architecture: x86_64$/m);
    expect(control).toMatch(/^OE: greeter$/m);
    expect(control).toMatch(/^Depends: libgreet$/m);
    const data = execFileSync("sh", ["-c", `ar p '${ipk}' data.tar.xz | tar -tvJf -`], { encoding: "utf8" });
    expect(data).toMatch(/^-rwxr-xr-x root\/root .* \.\/usr\/bin\/greeter$/m);
    const scripts = execFileSync("sh", ["-c", `ar p '${ipk}' control.tar.xz | tar -tJf -`], { encoding: "utf8" });
    expect(scripts.split("\n")).toEqual(expect.arrayContaining(["./control", "./postinst", "./conffiles"]));
    const index = readFileSync(join(deployed("ipk", "x86_64"), "Packages"), "utf8");
    expect(index).toMatch(/^Filename: greeter_1\.0~rc1-r0_x86_64\.ipk$/m);
    expect(index).toMatch(/^MD5Sum: [0-9a-f]{32}$/m);
  });
});

const rpm = (...args: string[]) => execFileSync("rpm", args, { encoding: "utf8", stdio: "pipe" });

describe("package_rpm", () => {
  const file = () => join(deployed("rpm", "x86_64"), "greeter-1.0~rc1-r0.x86_64.rpm");

  it("writes packages rpm reads: fields, epoch and ~ versions, files, dependencies, scripts", () => {
    const info = rpm("-qpi", file());
    expect(info).toMatch(/^Name\s+: greeter$/m);
    expect(info).toMatch(/^Epoch\s+: 2$/m);
    expect(info).toMatch(/^Version\s+: 1\.0~rc1$/m);
    expect(info).toMatch(/^Release\s+: r0$/m);
    expect(info).toMatch(/^License\s+: MIT$/m);
    expect(rpm("-qpl", file()).split("\n")).toEqual(expect.arrayContaining(["/usr/bin/greeter", "/etc/greeter.conf"]));
    expect(rpm("-qp", "--requires", file())).toMatch(/^libgreet$/m);
    expect(rpm("-qp", "--provides", file())).toMatch(/^hello-sayer$/m);
    expect(rpm("-qp", "--recommends", file())).toMatch(/^greet-words >= 1\.0$/m);
    expect(rpm("-qp", "--scripts", file())).toMatch(/postinstall scriptlet[^\n]*\n[^]*configured/);
    expect(rpm("-qpc", file()).trim()).toBe("/etc/greeter.conf");
    expect(rpm("-qp", "--qf", "%{ARCH}\n", join(deployed("rpm", "noarch"), "greet-words-1.0-r0.noarch.rpm"))).toBe("noarch\n");
    const dev = join(deployed("rpm", "x86_64"), "libgreet-dev-1.0-r0.x86_64.rpm");
    expect(rpm("-qp", "--requires", dev)).toMatch(/^libgreet = 1\.0-r0$/m);
  });

  it("has digests rpm -K accepts, and a payload rpm2cpio | cpio lists", () => {
    expect(rpm("-K", file())).toMatch(/digests OK/);
    const listing = execFileSync("sh", ["-c", `rpm2cpio '${file()}' | cpio -t --quiet`], { encoding: "utf8" });
    expect(listing.split("\n")).toEqual(expect.arrayContaining(["./usr/bin/greeter", "./etc/greeter.conf"]));
  });

  it.runIf(process.getuid?.() === 0)("installs into a fresh root with rpm --root", () => {
    const root = join(t.root, "rpmroot");
    mkdirSync(root, { recursive: true });
    rpm("--root", root, "--dbpath", "/var/lib/rpm", "--initdb");
    rpm("--root", root, "--dbpath", "/var/lib/rpm", "-i", "--nodeps", "--nosignature", "--noscripts", "--ignorearch", file(), join(deployed("rpm", "x86_64"), "libgreet-1.0-r0.x86_64.rpm"));
    expect(rpm("--root", root, "--dbpath", "/var/lib/rpm", "-qa").split("\n").sort()).toEqual(["", "greeter-1.0~rc1-r0.x86_64", "libgreet-1.0-r0.x86_64"]);
    expect(execFileSync(join(root, "usr/bin/greeter"), { env: { LD_LIBRARY_PATH: join(root, "usr/lib") }, encoding: "utf8" })).toBe("hello from libgreet\n");
  });

  it("indexes each architecture directory with createrepo_c", () => {
    const repomd = readFileSync(join(deployed("rpm", "x86_64"), "repodata", "repomd.xml"), "utf8");
    expect(repomd).toMatch(/<data type="primary">/);
  });
});

describe("reproducibility and signatures", () => {
  it("gives byte-identical packages when the tree is built again from scratch", async () => {
    const files = [
      join(deployed("deb", "x86_64"), "libgreet-dev_1.0-r0_amd64.deb"),
      join(deployed("ipk", "x86_64"), "libgreet_1.0-r0_x86_64.ipk"),
      join(deployed("rpm", "x86_64"), "libgreet-1.0-r0.x86_64.rpm"),
    ];
    const before = files.map((f) => readFileSync(f));
    const r = await t.kiln(["-f", "-c", "package", "libgreet"]);
    expect(r.code, r.all).toBe(0);
    const again = await t.kiln(["libgreet"]);
    expect(again.code, again.all).toBe(0);
    for (const type of ["deb", "ipk", "rpm"]) expect(again.all).toMatch(new RegExp(`Task libgreet:do_package_write_${type} succeeded`));
    files.forEach((f, i) => expect(readFileSync(f).equals(before[i]), f).toBe(true));
  });

  it("reruns the package tasks when FILES changes, and nothing else", async () => {
    t.recipe("greet-words_1.0.bb", `${WORDS}\nFILES:\${PN} += "/opt"\n`);
    const r = await t.kiln(["greet-words"]);
    expect(r.code, r.all).toBe(0);
    const ran = [...r.all.matchAll(/Task greet-words:(do_\w+) succeeded/g)].map((m) => m[1]).sort();
    expect(ran).toEqual(["do_package", "do_package_write_deb", "do_package_write_ipk", "do_package_write_rpm", "do_packagedata"]);
  });
});
