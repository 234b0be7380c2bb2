/**
 * Assembling a Debian rootfs from tiny .debs (writeArPackage, and hand-crafted ones
 * for what a writer would never produce), read back with the real dpkg; malicious
 * packages rejected with nothing left behind; configureRootfs cleaning up after
 * itself; and a real `dpkg --configure -a` in a tiny chroot made of the host's
 * /bin/sh and dpkg (root only).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, realpathSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import tar from "tar-stream";
import { describe, expect, it } from "vitest";
import { KilnError, readAr, writeAr } from "@kiln/core";
import { writeArPackage } from "@kiln/package";
import { assembleRootfs, configureRootfs, MERGED_USR_DIRS, type RootfsPackage } from "../src/rootfs.js";
import type { DebianPackage } from "../src/types.js";
import { debianPackage } from "./debian-package.js";
import { tempDirs } from "./temp-dirs.js";

const EPOCH = 1700000000;
const isRoot = process.getuid?.() === 0;
const has = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
const hasDpkg = has("dpkg");
const tmp = tempDirs("kiln-rootfs-");

const meta = (name: string, version: string, arch: string, extra: Partial<DebianPackage> = {}): DebianPackage => debianPackage(name, { version, arch, ...extra });

interface Spec {
  name: string;
  version?: string;
  arch?: string;
  fields?: [string, string][];
  files?: Record<string, string | { link: string } | { dir: true }>;
  scripts?: Partial<Record<"preinst" | "postinst" | "prerm" | "postrm", string>>;
  conffiles?: string[];
  compression?: "gz" | "xz";
}

/** A .deb written by @kiln/package's writer from a tree. */
async function deb(dir: string, s: Spec): Promise<RootfsPackage> {
  const version = s.version ?? "1.0-1";
  const arch = s.arch ?? "amd64";
  const root = join(dir, `${s.name}.tree`);
  mkdirSync(root, { recursive: true });
  for (const [path, what] of Object.entries(s.files ?? {})) {
    const p = join(root, path);
    mkdirSync(dirname(p), { recursive: true });
    if (typeof what === "string") writeFileSync(p, what);
    else if ("link" in what) symlinkSync(what.link, p);
    else mkdirSync(p, { recursive: true });
  }
  const out = join(dir, `${s.name}_${version}_${arch}.deb`);
  await writeArPackage(
    {
      control: [
        ["Package", s.name],
        ["Version", version],
        ["Architecture", arch],
        ["Maintainer", "Kiln Tests <tests@example.invalid>"],
        ...(s.fields ?? []),
        ["Description", `${s.name} test package\nLonger text.`],
      ],
      root,
      scripts: s.scripts,
      conffiles: s.conffiles,
      compression: s.compression ?? "gz",
      mtime: EPOCH,
      md5sums: true,
      installedSize: { after: "Architecture", unit: "KiB" },
    },
    out,
  );
  const multiArch = s.fields?.find(([k]) => k === "Multi-Arch")?.[1] ?? "";
  return { pkg: meta(s.name, version, arch, { multiArch }), deb: out };
}

type Entry = { name: string; type?: "file" | "directory" | "symlink" | "link"; body?: string; linkname?: string; mode?: number };

async function tarGz(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on("data", (c: Buffer) => chunks.push(c));
    pack.on("end", resolve);
    pack.on("error", reject);
  });
  for (const e of entries) {
    const type = e.type ?? "file";
    const header = { name: e.name, type, mode: e.mode ?? (type === "directory" ? 0o755 : 0o644), mtime: new Date(EPOCH * 1000), linkname: e.linkname, uid: 0, gid: 0 };
    if (type === "file") pack.entry(header, e.body ?? "");
    else pack.entry(header);
  }
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

/** A .deb crafted member by member: what no writer would produce. */
async function crafted(dir: string, name: string, data: Entry[], control: Entry[] = []): Promise<RootfsPackage> {
  const controlTar = await tarGz([
    { name: "./", type: "directory" },
    { name: "./control", body: `Package: ${name}\nVersion: 1\nArchitecture: amd64\nMaintainer: T <t@example.invalid>\nDescription: crafted\n` },
    ...control,
  ]);
  const out = join(dir, `${name}.deb`);
  writeFileSync(
    out,
    writeAr(
      [
        { name: "debian-binary", data: Buffer.from("2.0\n") },
        { name: "control.tar.gz", data: controlTar },
        { name: "data.tar.gz", data: await tarGz(data) },
      ],
      EPOCH,
    ),
  );
  return { pkg: meta(name, "1", "amd64"), deb: out };
}

const dpkg = (rootfs: string, ...args: string[]) => execFileSync("dpkg", [`--root=${rootfs}`, ...args], { encoding: "utf8" });

/** Mount points at or below `dir`, from /proc/self/mountinfo. */
const mountsUnder = (dir: string) => {
  const real = existsSync(dir) ? realpathSync(dir) : dir;
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4] ?? "")
    .filter((m) => m === real || m.startsWith(`${real}/`));
};

describe("MERGED_USR_DIRS", () => {
  it("follows debootstrap's setup_merged_usr per architecture", () => {
    expect(MERGED_USR_DIRS("amd64")).toEqual(["bin", "sbin", "lib", "lib32", "lib64", "libx32"]);
    expect(MERGED_USR_DIRS("i386")).toEqual(["bin", "sbin", "lib", "lib64", "libx32"]);
    expect(MERGED_USR_DIRS("arm64")).toEqual(["bin", "sbin", "lib"]);
    expect(MERGED_USR_DIRS("ppc64el")).toEqual(["bin", "sbin", "lib", "lib64"]);
    expect(MERGED_USR_DIRS("mips64el")).toEqual(["bin", "sbin", "lib", "lib32", "lib64", "libo32"]);
    expect(MERGED_USR_DIRS("hurd-i386")).toEqual([]);
  });
});

describe("assembleRootfs", () => {
  it("unpacks through the merged-/usr symlinks and writes dpkg's database as dpkg --unpack would", async () => {
    const dir = tmp();
    const rootfs = join(dir, "rootfs");
    const pkgs = [
      await deb(dir, {
        name: "foo",
        fields: [["Essential", "yes"], ["Priority", "required"], ["Homepage", "http://127.0.0.1/foo"], ["Depends", "libbar1"]],
        files: { "bin/foo": "#!/bin/sh\necho foo\n", "etc/foo.conf": "x=1\n", "usr/share/doc/foo/copyright": "MIT\n", "lib64/ld-test.so": { link: "/lib/x86_64-linux-gnu/ld-test.so" } },
        conffiles: ["/etc/foo.conf"],
        scripts: { preinst: "echo pre", postinst: "echo post" },
      }),
      await deb(dir, {
        name: "libbar1",
        version: "2:3.4-5",
        fields: [["Multi-Arch", "same"]],
        files: { "usr/lib/x86_64-linux-gnu/libbar.so.1": "elf\n" },
        scripts: { postinst: "echo lib" },
      }),
      await deb(dir, { name: "data-all", arch: "all", files: { "usr/share/data-all/x": "x\n" } }),
    ];
    const lines: string[] = [];
    await assembleRootfs([...pkgs].reverse(), { rootfs, arch: "amd64", mergedUsr: true, log: (l) => lines.push(l) });

    for (const d of MERGED_USR_DIRS("amd64")) {
      expect(readlinkSync(join(rootfs, d))).toBe(`usr/${d}`);
      expect(statSync(join(rootfs, "usr", d)).isDirectory()).toBe(true);
    }
    expect(lstatSync(join(rootfs, "usr/bin/foo")).isFile()).toBe(true);
    expect(readFileSync(join(rootfs, "bin/foo"), "utf8")).toContain("echo foo");
    expect(readlinkSync(join(rootfs, "usr/lib64/ld-test.so"))).toBe("/lib/x86_64-linux-gnu/ld-test.so");
    expect(existsSync(join(rootfs, ".kiln-unpack"))).toBe(false);
    // a conffile waits as .dpkg-new, as after `dpkg --unpack`
    expect(existsSync(join(rootfs, "etc/foo.conf"))).toBe(false);
    expect(readFileSync(join(rootfs, "etc/foo.conf.dpkg-new"), "utf8")).toBe("x=1\n");

    const db = join(rootfs, "var/lib/dpkg");
    const status = readFileSync(join(db, "status"), "utf8");
    const fooStanza = status.split("\n\n").find((s) => s.startsWith("Package: foo\n")) ?? "";
    const keys = fooStanza.split("\n").filter((l) => /^\S/.test(l)).map((l) => l.split(":")[0]);
    expect(keys).toEqual(["Package", "Essential", "Status", "Priority", "Installed-Size", "Maintainer", "Architecture", "Version", "Depends", "Conffiles", "Description", "Homepage"]);
    expect(fooStanza).toContain("Status: install ok unpacked\n");
    expect(fooStanza).toContain("Conffiles:\n /etc/foo.conf newconffile\n");
    expect(readFileSync(join(db, "info/foo.list"), "utf8").split("\n").slice(0, 4)).toEqual(["/.", "/bin", "/bin/foo", "/etc"]);
    expect(readFileSync(join(db, "info/foo.conffiles"), "utf8")).toBe("/etc/foo.conf\n");
    expect(readFileSync(join(db, "info/foo.md5sums"), "utf8")).toContain("  bin/foo\n");
    expect(statSync(join(db, "info/foo.preinst")).mode & 0o777).toBe(0o755);
    expect(existsSync(join(db, "info/libbar1:amd64.list"))).toBe(true);
    expect(existsSync(join(db, "info/libbar1:amd64.postinst"))).toBe(true);
    expect(existsSync(join(db, "info/libbar1.list"))).toBe(false);
    expect(existsSync(join(db, "info/data-all.list"))).toBe(true);
    expect(readFileSync(join(db, "arch"), "utf8")).toBe("amd64\n");
    for (const f of ["available", "diversions", "statoverride"]) expect(readFileSync(join(db, f), "utf8")).toBe("");
    for (const d of ["updates", "triggers", "info"]) expect(statSync(join(db, d)).isDirectory()).toBe(true);
    expect(lines.some((l) => l.includes("unpacking foo"))).toBe(true);

    if (!hasDpkg) return;
    const list = dpkg(rootfs, "-l");
    expect(list).toMatch(/^iU\s+data-all\s+1\.0-1\s+all/m);
    expect(list).toMatch(/^iU\s+foo\s+1\.0-1\s+amd64/m);
    expect(list).toMatch(/^iU\s+libbar1:amd64\s+2:3\.4-5\s+amd64/m);
    const files = dpkg(rootfs, "-L", "foo").split("\n");
    expect(files).toContain("/bin/foo");
    expect(files).toContain("/etc/foo.conf");
    expect(dpkg(rootfs, "-L", "libbar1:amd64")).toContain("/usr/lib/x86_64-linux-gnu/libbar.so.1");
    expect(dpkg(rootfs, "-s", "libbar1")).toMatch(/^Version: 2:3\.4-5$/m);
    expect(dpkg(rootfs, "-s", "foo")).toMatch(/^Status: install ok unpacked$/m);
    const audit = dpkg(rootfs, "--audit");
    expect(audit).toContain("unpacked but not yet configured");
    expect(audit).toMatch(/^ foo\s/m);
    expect(dpkg(rootfs, "-S", "/bin/foo")).toMatch(/^foo: \/bin\/foo$/m);
  });

  it("registers trigger interests and keeps hard links and absolute symlinks a Debian payload has", async () => {
    const dir = tmp();
    const rootfs = join(dir, "rootfs");
    const p = await crafted(
      dir,
      "trig",
      [
        { name: "./", type: "directory" },
        { name: "./usr/", type: "directory" },
        { name: "./usr/bin/", type: "directory" },
        { name: "./usr/bin/perl5", body: "perl\n", mode: 0o755 },
        { name: "./usr/bin/perl", type: "link", linkname: "./usr/bin/perl5" },
        { name: "./usr/bin/abs", type: "symlink", linkname: "/usr/bin/perl5" },
      ],
      [{ name: "./triggers", body: "interest-noawait /usr/share/trig\ninterest ldconfig\n" }],
    );
    await assembleRootfs([p], { rootfs, arch: "amd64", mergedUsr: false });
    expect(statSync(join(rootfs, "usr/bin/perl")).ino).toBe(statSync(join(rootfs, "usr/bin/perl5")).ino);
    expect(readlinkSync(join(rootfs, "usr/bin/abs"))).toBe("/usr/bin/perl5");
    expect(existsSync(join(rootfs, "bin"))).toBe(false);
    const db = join(rootfs, "var/lib/dpkg");
    expect(readFileSync(join(db, "triggers/File"), "utf8")).toBe("/usr/share/trig trig/noawait\n");
    expect(readFileSync(join(db, "triggers/ldconfig"), "utf8")).toBe("trig\n");
    // no md5sums member: computed, as dpkg does, for every regular file
    expect(readFileSync(join(db, "info/trig.md5sums"), "utf8").trim().split("\n").map((l) => l.split("  ")[1])).toEqual(["usr/bin/perl5", "usr/bin/perl"]);
    if (hasDpkg) expect(dpkg(rootfs, "-L", "trig")).toContain("/usr/bin/perl\n");
  });

  const MALICIOUS: [string, (dir: string) => Promise<RootfsPackage[]>, RegExp][] = [
    ["a '..' member", async (dir) => [await crafted(dir, "dotdot", [{ name: "./", type: "directory" }, { name: "./../escaped", body: "x" }])], /dotdot.*'\.\/\.\.\/escaped'/],
    ["an absolute member", async (dir) => [await crafted(dir, "absolute", [{ name: "/tmp/kiln-abs-escape", body: "x" }])], /absolute.*'\/tmp\/kiln-abs-escape'/],
    [
      "a member through a symlink of the same package",
      async (dir) => [
        await crafted(dir, "through", [
          { name: "./evil", type: "symlink", linkname: join(dir, "outside") },
          { name: "./evil/x", body: "x" },
        ]),
      ],
      /through.*'\.\/evil\/x'.*symlink/,
    ],
    [
      "a member through another package's relative symlink climbing out",
      async (dir) => [
        await crafted(dir, "a-rel", [{ name: "./up", type: "symlink", linkname: "../../../../../../../../../../.." }]),
        await crafted(dir, "b-rel", [{ name: "./up/", type: "directory" }, { name: `./up${dir}/outside/y`, body: "y" }]),
      ],
      /b-rel.*up/,
    ],
    ["a conffile that is not in the package", async (dir) => [await crafted(dir, "badconf", [{ name: "./", type: "directory" }], [{ name: "./conffiles", body: "/etc/passwd\n" }])], /badconf.*\/etc\/passwd/],
  ];
  for (const [what, make, message] of MALICIOUS) {
    it(`rejects ${what}, leaving nothing behind`, async () => {
      const dir = tmp();
      mkdirSync(join(dir, "outside"));
      const rootfs = join(dir, "rootfs");
      const pkgs = [await deb(dir, { name: "aaa-good", files: { "usr/share/good": "g\n" } }), ...(await make(dir))];
      const err = await assembleRootfs(pkgs, { rootfs, arch: "amd64", mergedUsr: true }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KilnError);
      expect((err as Error).message).toMatch(message);
      expect(existsSync(rootfs)).toBe(false);
      expect(existsSync(join(dir, "outside/x"))).toBe(false);
      expect(existsSync(join(dir, "outside/y"))).toBe(false);
      expect(existsSync(join(dir, "escaped"))).toBe(false);
      expect(existsSync("/tmp/kiln-abs-escape")).toBe(false);
    });
  }

  it("follows another package's absolute symlink from the rootfs's own root, as a chroot would: nothing lands outside", async () => {
    const dir = tmp();
    mkdirSync(join(dir, "outside"));
    const rootfs = join(dir, "rootfs");
    const pkgs = [
      await crafted(dir, "a-link", [{ name: "./evil", type: "symlink", linkname: join(dir, "outside") }]),
      await crafted(dir, "b-through", [{ name: "./evil/", type: "directory" }, { name: "./evil/x", body: "x" }]),
    ];
    await assembleRootfs(pkgs, { rootfs, arch: "amd64", mergedUsr: true });
    expect(existsSync(join(dir, "outside/x"))).toBe(false);
    expect(readFileSync(join(rootfs, dir, "outside/x"), "utf8")).toBe("x");
    expect(readlinkSync(join(rootfs, "evil"))).toBe(join(dir, "outside"));
  });

  it("follows `..` in another package's link from where the link leads (/t -> s/../share, /s -> usr/lib: /usr/share)", async () => {
    const dir = tmp();
    const rootfs = join(dir, "rootfs");
    const pkgs = [
      await deb(dir, { name: "a-links", files: { "usr/lib": { dir: true }, "usr/share": { dir: true }, s: { link: "usr/lib" }, t: { link: "s/../share" } } }),
      await deb(dir, { name: "b-user", files: { "t/file": "f\n" } }),
    ];
    await assembleRootfs(pkgs, { rootfs, arch: "amd64", mergedUsr: false });
    expect(readFileSync(join(rootfs, "usr/share/file"), "utf8")).toBe("f\n");
    expect(existsSync(join(rootfs, "share"))).toBe(false);
  });

  it("shares directories between packages (the first one's stays), and refuses a file where one is", async () => {
    const dir = tmp();
    const rootfs = join(dir, "rootfs");
    const shared = [
      await deb(dir, { name: "a-first", files: { "usr/share/x/a": "a\n" } }),
      await deb(dir, { name: "b-second", files: { "usr/share/x/b": "b\n", "usr/share/x/sub/c": "c\n" } }),
    ];
    await assembleRootfs(shared, { rootfs, arch: "amd64", mergedUsr: false });
    expect(["a", "b", "sub/c"].map((f) => readFileSync(join(rootfs, "usr/share/x", f), "utf8"))).toEqual(["a\n", "b\n", "c\n"]);
    const list = (p: string) => readFileSync(join(rootfs, "var/lib/dpkg/info", `${p}.list`), "utf8").split("\n");
    // both list the directories they ship
    expect(list("b-second")).toEqual(expect.arrayContaining(["/usr/share/x", "/usr/share/x/sub", "/usr/share/x/b"]));
    const clash = join(dir, "clash");
    const pkgs = [...shared, await deb(dir, { name: "c-file", files: { "usr/share/x": "not a dir\n" } })];
    await expect(assembleRootfs(pkgs, { rootfs: clash, arch: "amd64", mergedUsr: false })).rejects.toThrow(/c-file.*usr\/share\/x.*root filesystem has a directory there/);
    expect(existsSync(clash)).toBe(false);
  });

  it("refuses a file another package owns, naming both", async () => {
    const dir = tmp();
    const rootfs = join(dir, "rootfs");
    const pkgs = [await deb(dir, { name: "first", files: { "usr/bin/tool": "1\n" } }), await deb(dir, { name: "second", files: { "bin/tool": "2\n" } })];
    // merged /usr: second's /bin/tool is first's /usr/bin/tool
    await expect(assembleRootfs(pkgs, { rootfs, arch: "amd64", mergedUsr: true })).rejects.toThrow(/second.*would overwrite \/usr\/bin\/tool, which is also in package first/);
    expect(existsSync(rootfs)).toBe(false);
  });

  it("xz payloads (decoded by shared xz programs): all unpacked; a damaged one fails naming its package and removes the rootfs", async () => {
    const dir = tmp();
    const pkgs = await Promise.all(
      Array.from({ length: 7 }, (_, i) => deb(dir, { name: `x${i}`, compression: "xz", files: { [`usr/share/x${i}/data`]: `${i}\n`.repeat(20000 * (i + 1)) } })),
    );
    const rootfs = join(dir, "rootfs");
    await assembleRootfs(pkgs, { rootfs, arch: "amd64", mergedUsr: true });
    for (let i = 0; i < 7; i++) expect(readFileSync(join(rootfs, `usr/share/x${i}/data`), "utf8")).toBe(`${i}\n`.repeat(20000 * (i + 1)));
    expect(dpkg(rootfs, "-l").match(/^iU {2}x\d/gm)).toHaveLength(7);

    // x4's data.tar.xz damaged in its compressed middle: the ar stays readable
    const members = readAr(readFileSync(pkgs[4].deb), pkgs[4].deb);
    const data = members.find((m) => m.name === "data.tar.xz") as { name: string; data: Buffer };
    const damaged = Buffer.from(data.data);
    damaged[damaged.length >> 1] ^= 0x55;
    writeFileSync(pkgs[4].deb, writeAr(members.map((m) => (m === data ? { name: m.name, data: damaged } : m)), EPOCH));
    const again = join(dir, "again");
    await expect(assembleRootfs(pkgs, { rootfs: again, arch: "amd64", mergedUsr: true })).rejects.toThrow(/package x4 .*data\.tar\.xz cannot be decompressed/);
    expect(existsSync(again)).toBe(false);
  });

  it("empties (but keeps) a directory it was given when a package fails", async () => {
    const dir = tmp();
    const rootfs = join(dir, "rootfs");
    mkdirSync(rootfs);
    const pkgs = [await deb(dir, { name: "good", files: { "usr/share/good": "g\n" } }), await crafted(dir, "zz-bad", [{ name: "./../x", body: "x" }])];
    await expect(assembleRootfs(pkgs, { rootfs, arch: "amd64", mergedUsr: true })).rejects.toThrow(/zz-bad/);
    expect(existsSync(rootfs)).toBe(true);
    expect(execFileSync("ls", ["-A", rootfs], { encoding: "utf8" })).toBe("");
  });

  it("refuses a non-empty rootfs and leaves it alone", async () => {
    const dir = tmp();
    const rootfs = join(dir, "rootfs");
    mkdirSync(rootfs);
    writeFileSync(join(rootfs, "keep"), "mine");
    const pkgs = [await deb(dir, { name: "good", files: { "usr/share/good": "g\n" } })];
    const err = await assembleRootfs(pkgs, { rootfs, arch: "amd64", mergedUsr: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KilnError);
    expect((err as Error).message).toMatch(/not empty/);
    expect(readFileSync(join(rootfs, "keep"), "utf8")).toBe("mine");
  });

  it("refuses a package of a foreign architecture, and one whose file is another package", async () => {
    const dir = tmp();
    const arm = await deb(dir, { name: "armpkg", arch: "arm64" });
    await expect(assembleRootfs([arm], { rootfs: join(dir, "r1"), arch: "amd64", mergedUsr: false })).rejects.toThrow(/armpkg.*arm64/);
    const other = await deb(dir, { name: "other" });
    await expect(assembleRootfs([{ ...other, pkg: meta("wanted", "1.0-1", "amd64") }], { rootfs: join(dir, "r2"), arch: "amd64", mergedUsr: false })).rejects.toThrow(/wanted.*is other/);
    expect(existsSync(join(dir, "r1")) || existsSync(join(dir, "r2"))).toBe(false);
  });
});

describe.skipIf(!isRoot)("configureRootfs (root)", () => {
  it("fails clearly on a rootfs without a shell, leaving nothing mounted and no policy-rc.d", async () => {
    const dir = tmp();
    const rootfs = join(dir, "rootfs");
    await assembleRootfs([await deb(dir, { name: "noshell", files: { "usr/share/x": "x\n" } })], { rootfs, arch: "amd64", mergedUsr: true });
    const err = await configureRootfs({ rootfs }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KilnError);
    expect((err as Error).message).toMatch(/no \/bin\/sh/);
    expect(mountsUnder(rootfs)).toEqual([]);
    expect(existsSync(join(rootfs, "usr/sbin/policy-rc.d"))).toBe(false);
  });

  // A chroot made of the host's dash and dpkg (and the programs dpkg insists on),
  // with their libraries: enough for `dpkg --configure -a` and maintainer scripts.
  const HOST_PROGRAMS = ["sh", "dpkg", "dpkg-deb", "rm", "tar", "diff", "ldconfig", "start-stop-daemon", "cat"];
  const hostTools = HOST_PROGRAMS.map((p) => spawnSync("sh", ["-c", `command -v ${p}`], { encoding: "utf8" }).stdout.trim());
  const canBuildChroot = hostTools.every((p) => p.startsWith("/")) && has("ldd") && existsSync("/usr/lib64") === existsSync("/lib64");

  async function hostBase(dir: string): Promise<RootfsPackage> {
    const files: Record<string, string> = {};
    const tree = join(dir, "hostbase.tree");
    const copy = (from: string, rel: string) => {
      const to = join(tree, rel);
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(from, to);
      execFileSync("chmod", ["--reference", from, to]);
    };
    const libs = new Set<string>();
    for (const p of hostTools) {
      const real = realpathSync(p);
      // every program under /usr/bin (merged /usr makes /bin, /sbin the same), under its own name
      copy(real, `usr/bin/${p.split("/").pop()}`);
      for (const m of execFileSync("ldd", [real], { encoding: "utf8" }).matchAll(/(\/\S+) \(0x/g)) libs.add(m[1]);
    }
    for (const l of libs) copy(realpathSync(l), `usr${l.replace(/^\/usr/, "")}`);
    return deb(dir, { name: "hostbase", files, fields: [["Essential", "yes"]] }).then((p) => p);
  }

  it.skipIf(!canBuildChroot)("runs preinst install and dpkg --configure -a in a tiny chroot, then cleans up", async () => {
    const dir = tmp();
    const rootfs = join(dir, "rootfs");
    const base = await hostBase(dir);
    const app = await deb(dir, {
      name: "app",
      files: { "etc/app.conf": "a=1\n", "usr/share/app/x": "x\n" },
      conffiles: ["/etc/app.conf"],
      fields: [["Depends", "hostbase"]],
      scripts: {
        preinst: 'echo "preinst $1 $DPKG_MAINTSCRIPT_PACKAGE" > /preinst-ran',
        postinst: 'echo "postinst $1" > /postinst-ran\nrc=0; /usr/sbin/policy-rc.d || rc=$?; echo "policy $rc" >> /postinst-ran\necho quiet >/dev/null\ntest -e /proc/self/status && echo proc >> /postinst-ran',
      },
    });
    await assembleRootfs([app, base], { rootfs, arch: "amd64", mergedUsr: true });
    const lines: string[] = [];
    await configureRootfs({ rootfs, log: (l) => lines.push(l) });
    expect(readFileSync(join(rootfs, "preinst-ran"), "utf8")).toBe("preinst install app\n");
    expect(readFileSync(join(rootfs, "postinst-ran"), "utf8")).toBe("postinst configure\npolicy 101\nproc\n");
    expect(readFileSync(join(rootfs, "etc/app.conf"), "utf8")).toBe("a=1\n");
    expect(existsSync(join(rootfs, "etc/app.conf.dpkg-new"))).toBe(false);
    expect(dpkg(rootfs, "-l")).toMatch(/^ii\s+app\s/m);
    expect(dpkg(rootfs, "-s", "app")).toMatch(/^ \/etc\/app\.conf [0-9a-f]{32}$/m);
    expect(lines.some((l) => l.includes("Setting up app"))).toBe(true);
    expect(mountsUnder(rootfs)).toEqual([]);
    expect(existsSync(join(rootfs, "usr/sbin/policy-rc.d"))).toBe(false);
    expect(existsSync(join(rootfs, "dev/null"))).toBe(false); // the bind-mount placeholder is gone
  });

  it.skipIf(!canBuildChroot)("a failing postinst is a KilnError with dpkg's last lines, and still cleans up", async () => {
    const dir = tmp();
    const rootfs = join(dir, "rootfs");
    const base = await hostBase(dir);
    const bad = await deb(dir, { name: "broken", scripts: { postinst: "echo 'broken: about to fail' >&2\nexit 3" } });
    await assembleRootfs([base, bad], { rootfs, arch: "amd64", mergedUsr: true });
    const err = await configureRootfs({ rootfs }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KilnError);
    expect((err as Error).message).toMatch(/dpkg --configure -a failed/);
    expect((err as Error).message).toMatch(/broken: about to fail/);
    expect(mountsUnder(rootfs)).toEqual([]);
    expect(existsSync(join(rootfs, "usr/sbin/policy-rc.d"))).toBe(false);
  });
});
