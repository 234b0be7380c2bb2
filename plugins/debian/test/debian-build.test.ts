/**
 * @kiln/debian end to end, offline: a Debian-style repository built by kiln's own deb
 * writer and signed by a throwaway key (fixture-repo.ts), served on 127.0.0.1; a
 * build directory whose layer has debian-rootfs recipes. Checked: one virtual recipe
 * per package (newest version), the resolved minbase set, the rootfs (merged /usr,
 * dpkg's database read by the real dpkg) and its image, a second parse downloading
 * nothing but InRelease, debian.lock pinning versions across a suite update (and the
 * error when a pinned version is gone), an offline rebuild with BB_NO_NETWORK = "1"
 * and no server, and the bad inputs: a wrong key, a Packages file whose sha256 is
 * not the signed one, a .deb with an escaping member.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { basehashDetailsOf, clearFileCache, initShellParser, Kiln, Providers, type RecipeInfo, type VirtualRecipe } from "@kiln/core";
import { main } from "@kiln/cli";
// the CLI's options resolve plugin packages from the CLI, which ships them
import { cliKilnOptions } from "../../../packages/cli/dist/plugins.js";
import { badDeb, BASE_PACKAGES, buildFixtureRepo, resignRelease, run, serveDirectory, type FixtureRepo } from "./fixture-repo.js";

const EPOCH = 1717243200;
const roots: string[] = [];
const servers: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const s of servers.splice(0)) await s.close();
  if (!process.env.KILN_KEEP_TMP) for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

const tmp = (what: string) => {
  const dir = mkdtempSync(join(tmpdir(), `kiln-debian-${what}-`));
  roots.push(dir);
  return dir;
};
const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

const RECIPES: Record<string, string> = {
  "deb-minbase_1.0.bb": `DEBIAN_VARIANT = "minbase"\ninherit debian-rootfs\n`,
  "deb-hello_1.0.bb": `DEBIAN_VARIANT = "custom"\nDEBIAN_PACKAGES = "hello"\nDEBIAN_MERGED_USR = "0"\nIMAGE_FSTYPES = "tar.gz"\ninherit debian-rootfs\n`,
  "deb-evil_1.0.bb": `DEBIAN_VARIANT = "custom"\nDEBIAN_PACKAGES = "evil"\ninherit debian-rootfs\n`,
  "deb-missing_1.0.bb": `DEBIAN_VARIANT = "custom"\nDEBIAN_PACKAGES = "hello no-such-package"\ninherit debian-rootfs\n`,
};

/** A build directory using the repository at `url` (keyring `keyring`). */
function buildDir(url: string, keyring: string, extra = ""): string {
  const root = tmp("build");
  const write = (rel: string, text: string) => {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  };
  write("build/conf/bblayers.conf", `BBPATH = "\${TOPDIR}"\nBBLAYERS = "\${TOPDIR}/../meta-deb"\n`);
  write(
    "build/conf/local.conf",
    [
      `KILN_PLUGINS += "@kiln/sstate @kiln/debian"`,
      `SOURCE_DATE_EPOCH = "${EPOCH}"`,
      `DEBIAN_MIRROR = "${url}"`,
      `DEBIAN_SUITE = "kiln-test"`,
      `DEBIAN_ARCH = "amd64"`,
      `DEBIAN_KEYRING = "${keyring}"`,
      `DEBIAN_LOCAL_REPO = "\${TMPDIR}/debian-repo"`,
      extra,
      "",
    ].join("\n"),
  );
  write(
    "meta-deb/conf/layer.conf",
    `BBPATH .= ":\${LAYERDIR}"\nBBFILES += "\${LAYERDIR}/recipes/*.bb"\nBBFILE_COLLECTIONS += "deb"\nBBFILE_PATTERN_deb = "^\${LAYERDIR}/"\nBBFILE_PRIORITY_deb = "5"\n`,
  );
  for (const [name, text] of Object.entries(RECIPES)) write(`meta-deb/recipes/${name}`, text);
  return root;
}

async function kiln(root: string, args: string[], env: Record<string, string> = {}) {
  clearFileCache();
  let out = "";
  const code = await main(args, { cwd: join(root, "build"), env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/root", ...env }, io: { out: (t) => (out += t), err: (t) => (out += t) } });
  return { code, out };
}

async function parse(root: string) {
  clearFileCache();
  const k = new Kiln(cliKilnOptions({ cwd: join(root, "build"), env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } }));
  return { k, result: await k.parseAll() };
}

/** The package `name`'s .deb replaced by `data`; Packages and Release follow, signed again. */
async function replaceDeb(repo: FixtureRepo, name: string, write: (out: string) => Promise<void>): Promise<void> {
  const key = [...repo.debs.keys()].find((k) => k.startsWith(`${name}_`));
  if (!key) throw new Error(`no ${name} in the fixture`);
  const deb = repo.debs.get(key) as string;
  await write(deb);
  const data = readFileSync(deb);
  const dir = join(repo.root, "dists", repo.suite, "main", `binary-${repo.arch}`);
  const text = readFileSync(join(dir, "Packages"), "utf8")
    .split("\n\n")
    .map((st) =>
      st.startsWith(`Package: ${name}\n`)
        ? st
            .replace(/^Size: .*$/m, `Size: ${data.length}`)
            .replace(/^SHA256: .*$/m, `SHA256: ${sha256(data)}`)
            .replace(/^MD5sum: .*$/m, `MD5sum: ${createHash("md5").update(data).digest("hex")}`)
        : st,
    )
    .join("\n\n");
  writeFileSync(join(dir, "Packages"), text);
  writeFileSync(join(dir, "Packages.xz"), await run("xz", ["-c", "-6", "-T1"], { input: text }));
  writeFileSync(join(dir, "Packages.gz"), gzipSync(Buffer.from(text), { level: 9 }));
  await resignRelease(repo, (release) =>
    release.replace(/^ ([0-9a-f]+) +(\d+) (main\/binary-\S+\/Packages(\.xz|\.gz)?)$/gm, (_m, hash: string, _size, path: string) => {
      const content = readFileSync(join(repo.root, "dists", repo.suite, path));
      return ` ${hash.length === 64 ? sha256(content) : createHash("md5").update(content).digest("hex")} ${String(content.length).padStart(16)} ${path}`;
    }),
  );
}

let repo: FixtureRepo;
let server: Awaited<ReturnType<typeof serveDirectory>>;

beforeAll(async () => {
  const dir = tmp("repo");
  repo = await buildFixtureRepo(dir, [...BASE_PACKAGES, { name: "evil", version: "1.0-1", section: "misc" }]);
  await replaceDeb(repo, "evil", (out) => badDeb(out, "dotdot", { name: "evil", version: "1.0-1", arch: "amd64" }));
  server = await serveDirectory(repo.root);
  servers.push(server);
}, 120_000);

const uniqueNames = () => new Set([...BASE_PACKAGES.map((p) => p.name), "evil"]);

describe("virtual recipes from the index", () => {
  it("one recipe per package name, the newest version, with its fields", async () => {
    const root = buildDir(server.url, repo.keyring);
    const { k, result } = await parse(root);
    expect(result.errors).toEqual([]);
    expect(result.stats.virtual).toBe(uniqueNames().size);
    const byPn = new Map(result.recipes.map((r) => [r.pn, r]));
    // two versions of hello: 2.10-3 wins; diffutils 1:3.8-4 beats 3.10-1 by its epoch
    expect(byPn.get("debian-hello")?.pv).toBe("2.10-3");
    expect(byPn.get("debian-diffutils")).toMatchObject({ pe: "1", pv: "3.8-4" });
    // RDEPENDS: alternatives resolved, prefixed; RPROVIDES from Provides
    expect(byPn.get("debian-mawk")?.rprovides["debian-mawk"]).toContain("debian-awk");
    const d = k.parseRecipe(byPn.get("debian-hello")!.file);
    expect(d.getVar("DEBIAN_VERSION")).toBe("2.10-3");
    expect(String(d.getVar("SRC_URI"))).toContain(`${server.url}/pool/main/h/hello/hello_2.10-3_amd64.deb`);
    expect(d.getVarFlag("SRC_URI", "sha256sum")).toBe(sha256(readFileSync(repo.debs.get("hello_2.10-3_amd64") as string)));
    expect(String(d.getVar("RDEPENDS"))).toBe("debian-libc6");
  });

  it("the suite's provider index answers as indexing every recipe would (PN, packages, RPROVIDES)", async () => {
    const { k, result } = await parse(buildDir(server.url, repo.keyring));
    const d = k.configuration().d;
    const viaIndex = new Providers(result.preferred, d, result.recipes);
    // (a virtual recipe's provider fields are getters: copied by name)
    const unindexed = (r: RecipeInfo): RecipeInfo => (r.virtual ? { ...r, providerIndex: undefined, provides: r.provides, packages: r.packages, rprovides: r.rprovides } : r);
    const plain = result.recipes.map(unindexed);
    const one = new Providers(new Map(plain.map((r) => [r.pn, r])), d, plain);
    const names = new Set(result.recipes.flatMap((r) => [r.pn, ...Object.values(r.rprovides).flat()]));
    expect(names.has("debian-awk")).toBe(true);
    const pns = (x: ReturnType<Providers["resolveRuntime"]>) => (x.kind === "recipe" ? [x.recipe.pn] : x.kind === "multiple" ? x.candidates.map((c) => c.pn).sort() : [x.kind]);
    for (const name of names) {
      expect(pns(viaIndex.resolveRuntime(name)), name).toEqual(pns(one.resolveRuntime(name)));
      expect(pns(viaIndex.resolveBuild(name)), name).toEqual(pns(one.resolveBuild(name)));
    }
    expect(pns(viaIndex.resolveRuntime("debian-awk"))).toContain("debian-mawk");
  });

  it("do_install unpacks a package into D, keeping an absolute symlink (libc6's loader link)", async () => {
    const root = buildDir(server.url, repo.keyring);
    const { code, out } = await kiln(root, ["-c", "install", "debian-libc6"]);
    expect(code, out).toBe(0);
    const work = join(root, "build", "tmp", "work");
    const sys = readdirSync(work).find((x) => existsSync(join(work, x, "debian-libc6"))) as string;
    const image = join(work, sys, "debian-libc6", "2.36-9+deb12u4-r0", "image");
    expect(readlinkSync(join(image, "usr/lib64/ld-linux-x86-64.so.2"))).toBe("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
    expect(readFileSync(join(image, "usr/lib/x86_64-linux-gnu/libc.so.6"), "utf8")).toMatch(/fake libc\.so\.6/);
  });

  it("a package's siginfo details come from the template with its own values: what analysing its materialised recipe gives", async () => {
    await initShellParser();
    const { k, result } = await parse(buildDir(server.url, repo.keyring));
    const virtual = result.recipes.filter((r) => r.virtual && ["debian-hello", "debian-libc6", "debian-mawk", "debian-diffutils"].includes(r.pn));
    expect(virtual.length).toBe(4);
    for (const info of virtual) {
      const fromStore = basehashDetailsOf(k.parseRecipe(info.file));
      for (const task of info.tasks.map((t) => t.name)) {
        const fromTemplate = (info as unknown as VirtualRecipe).basehashDetails?.(task);
        const analysed = fromStore(task);
        expect(fromTemplate, `${info.pn}:${task}`).toBeDefined();
        expect({ ...fromTemplate, basehash: "" }, `${info.pn}:${task}`).toEqual({ ...analysed, basehash: "" });
        // the basehash is the recipe's own (the index's), not the store's
        expect(fromTemplate?.basehash).toBe(info.basehashes?.[task]);
      }
    }
  });

  it("the same package data gives the same basehashes; a changed field changes only its recipe", async () => {
    const a = (await parse(buildDir(server.url, repo.keyring))).result.recipes;
    const b = (await parse(buildDir(server.url, repo.keyring))).result.recipes;
    const hashes = (rs: typeof a) => Object.fromEntries(rs.filter((r) => r.virtual).map((r) => [r.pn, r.basehashes]));
    expect(hashes(b)).toEqual(hashes(a));
    const sed = a.find((r) => r.pn === "debian-sed")!;
    expect(Object.keys(sed.basehashes ?? {})).toEqual(expect.arrayContaining(["do_fetch", "do_install", "do_build"]));
    expect(sed.basehashes?.do_fetch).not.toBe(a.find((r) => r.pn === "debian-grep")!.basehashes?.do_fetch);
  });
});

/** debootstrap's minbase of the fixture: Essential + Priority: required + apt, closed over Pre-Depends/Depends. */
const MINBASE = `adduser apt base-files base-passwd bash coreutils dash debconf debian-archive-keyring debianutils diffutils dpkg
findutils gcc-12-base gpgv grep gzip hostname init-system-helpers libacl1 libapt-pkg6.0 libattr1 libaudit-common libaudit1
libblkid1 libbz2-1.0 libc-bin libc6 libcap-ng0 libcap2 libcrypt1 libdebconfclient0 libgcc-s1 libgmp10 liblzma5 libmd0
libmount1 libpam-modules libpam-modules-bin libpam-runtime libpam0g libpcre2-8-0 libseccomp2 libselinux1 libsmartcols1
libstdc++6 libsystemd0 libtinfo6 libudev1 libuuid1 libxxhash0 libzstd1 login mawk ncurses-base ncurses-bin passwd
perl-base sed sysvinit-utils tar usr-is-merged util-linux zlib1g`.split(/\s+/);

const MACHINE = "qemux86-64";
const workdir = (root: string, pn: string) => {
  const base = join(root, "build", "tmp", "work");
  const sys = readdirSync(base).find((d) => existsSync(join(base, d, pn)));
  if (!sys) throw new Error(`no work dir for ${pn}`);
  return join(base, sys, pn, "1.0-r0");
};
const deployed = (root: string) => join(root, "build", "tmp", "deploy", "images", MACHINE);

describe("debian-rootfs", () => {
  let root: string;
  beforeAll(() => {
    root = buildDir(server.url, repo.keyring);
  });

  it("kiln debian show prints debootstrap's minbase set: versions, reasons, usr-is-merged over usrmerge, mawk over gawk", async () => {
    const { code, out } = await kiln(root, ["debian", "show", "deb-minbase"]);
    expect(code, out).toBe(0);
    const lines = out.split("\n").filter((l) => l.includes("<-"));
    expect(lines.map((l) => l.split(" ")[0])).toEqual(MINBASE);
    expect(out).toMatch(/^usr-is-merged 37~deb12u1 all {2}<- Depends of init-system-helpers: usrmerge \| usr-is-merged$/m);
    expect(out).toMatch(/^diffutils 1:3\.8-4 amd64 {2}<- Essential: yes$/m);
    expect(out).toMatch(/^apt 2\.6\.1 amd64 {2}<- Priority: required$/m);
    expect(out).toContain(`${MINBASE.length} packages`);
    // the set is cached per index, lock and request: the next parse reads it back the same
    const cache = join(root, "build", "tmp", "cache", "debian");
    expect(readdirSync(cache).filter((f) => /^rootfs-[0-9a-f]{64}\.json$/.test(f)).length).toBeGreaterThan(0);
    const again = await kiln(root, ["debian", "show", "deb-minbase"]);
    expect(again.out).toBe(out);
  });

  it("builds the minbase rootfs: merged /usr, dpkg's database as dpkg reads it, the image, its manifest and the local repository", async () => {
    const { code, out } = await kiln(root, ["deb-minbase"]);
    expect(code, out).toBe(0);
    const rootfs = join(workdir(root, "deb-minbase"), "rootfs");
    for (const dir of ["bin", "sbin", "lib"]) expect(readlinkSync(join(rootfs, dir))).toBe(`usr/${dir}`);
    // bash ships /bin/bash: through the link it is in /usr/bin
    expect(lstatSync(join(rootfs, "usr/bin/bash")).isFile()).toBe(true);
    const listed = execFileSync("dpkg", [`--root=${rootfs}`, "-l"], { encoding: "utf8" }).split("\n").filter((l) => /^iU /.test(l));
    expect(listed.map((l) => l.split(/\s+/)[1].replace(/:amd64$/, "")).sort()).toEqual([...MINBASE].sort());
    expect(execFileSync("dpkg", [`--root=${rootfs}`, "-L", "bash"], { encoding: "utf8" })).toContain("/bin/bash");
    expect(execFileSync("dpkg", [`--root=${rootfs}`, "-s", "diffutils"], { encoding: "utf8" })).toMatch(/^Version: 1:3\.8-4$/m);

    const images = readdirSync(deployed(root));
    const image = images.find((f) => /^deb-minbase-qemux86-64-\d{14}\.rootfs\.tar\.zst$/.test(f));
    expect(image, images.join(" ")).toBeDefined();
    const tarList = execFileSync("tar", ["--zstd", "-tvf", join(deployed(root), image!)], { encoding: "utf8" });
    expect(tarList).toMatch(/^l\S+ .* \.\/bin -> usr\/bin$/m);
    expect(tarList).toMatch(/ \.\/var\/lib\/dpkg\/status$/m);
    const manifest = readFileSync(join(deployed(root), "deb-minbase-qemux86-64.manifest"), "utf8");
    expect(manifest.trim().split("\n")).toHaveLength(MINBASE.length);
    expect(manifest).toContain("libc6 amd64 2.36-9+deb12u4\n");

    // the local apt repository: the suite's signed InRelease and indexes, the pool DL_DIR's .debs
    const local = join(root, "build", "tmp", "debian-repo");
    execFileSync("gpgv", ["--keyring", repo.keyring, join(local, "dists/kiln-test/InRelease")], { stdio: "pipe" });
    const index = readFileSync(join(local, "dists/kiln-test/main/binary-amd64/Packages.xz"));
    expect(index.equals(readFileSync(join(repo.root, "dists/kiln-test/main/binary-amd64/Packages.xz")))).toBe(true);
    for (const line of manifest.trim().split("\n")) {
      const [name, arch, version] = line.split(" ");
      const deb = repo.debs.get(`${name}_${version}_${arch}`) as string;
      const rel = deb.slice(repo.root.length + 1);
      expect(sha256(readFileSync(join(local, rel)))).toBe(sha256(readFileSync(deb)));
    }
  }, 120_000);

  it("a second parse downloads the InRelease only, and runs no gpgv for the same bytes and keyring; an unchanged build runs nothing", async () => {
    // a gpgv first on PATH that logs each run, then runs the real one
    const bin = tmp("gpgv-log");
    const log = join(bin, "runs");
    const real = execFileSync("sh", ["-c", "command -v gpgv"], { encoding: "utf8" }).trim();
    writeFileSync(join(bin, "gpgv"), `#!/bin/sh\necho run >> ${log}\nexec ${real} "$@"\n`, { mode: 0o755 });
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path ?? ""}`;
    try {
      const before = server.requests.length;
      const { code, out } = await kiln(root, ["deb-minbase"]);
      expect(code, out).toBe(0);
      expect(server.requests.slice(before)).toEqual(["/dists/kiln-test/InRelease"]);
      expect(out).toMatch(/Attempted \d+ tasks of which \d+ didn't need to be rerun and all succeeded/);
      expect(out).not.toMatch(/Running task .*do_rootfs/);
      expect(existsSync(log)).toBe(false); // verified before: same bytes, same keyring, within the hour
      // a verification older than an hour is done again
      const verified = execFileSync("sh", ["-c", `find ${join(root, "build", "downloads", "debian")} -name InRelease.verified`], { encoding: "utf8" }).trim();
      const [sum, keyring] = readFileSync(verified, "utf8").trim().split(" ");
      writeFileSync(verified, `${sum} ${keyring} ${Date.now() - 2 * 3_600_000}\n`);
      expect((await kiln(root, ["debian", "show", "deb-minbase"])).code).toBe(0);
      expect(readFileSync(log, "utf8")).toBe("run\n");
    } finally {
      process.env.PATH = path;
    }
  }, 60_000);

  it("without merged /usr: real /bin; a custom set is the packages asked for and their dependencies", async () => {
    const { code, out } = await kiln(root, ["deb-hello"]);
    expect(code, out).toBe(0);
    const rootfs = join(workdir(root, "deb-hello"), "rootfs");
    expect(readdirSync(rootfs).filter((f) => lstatSync(join(rootfs, f)).isSymbolicLink())).toEqual([]);
    expect(lstatSync(join(rootfs, "usr/bin/hello")).isFile()).toBe(true);
    const manifest = readFileSync(join(deployed(root), "deb-hello-qemux86-64.manifest"), "utf8");
    expect(manifest.trim().split("\n").map((l) => l.split(" ")[0])).toEqual(["gcc-12-base", "hello", "libc6", "libgcc-s1"]);
    expect(manifest).toContain("hello amd64 2.10-3\n");
    expect(readdirSync(deployed(root))).toContain("deb-hello-qemux86-64.rootfs.tar.gz");
  }, 60_000);

  it("a set that cannot be resolved: show and build fail naming the package; the other recipes still parse", async () => {
    const show = await kiln(root, ["debian", "show", "deb-missing"]);
    expect(show.code).not.toBe(0);
    expect(show.out).toMatch(/no-such-package/);
    const build = await kiln(root, ["deb-missing"]);
    expect(build.code).not.toBe(0);
    expect(build.out).toMatch(/deb-missing.*no-such-package|no-such-package.*deb-missing/s);
  });

  it("a .deb with a member escaping the rootfs fails the build, naming the package and member, leaving no rootfs", async () => {
    const { code, out } = await kiln(root, ["deb-evil"]);
    expect(code).not.toBe(0);
    expect(out).toMatch(/evil/);
    expect(out).toMatch(/\.\.\/evil/);
    expect(existsSync(join(workdir(root, "deb-evil"), "rootfs"))).toBe(false);
    expect(readdirSync(deployed(root)).filter((f) => f.startsWith("deb-evil"))).toEqual([]);
  }, 60_000);
});

/** local.conf of `root` with its mirror and keyring replaced. */
function pointAt(root: string, url: string, keyring: string, extra = ""): void {
  const conf = join(root, "build", "conf", "local.conf");
  const text = readFileSync(conf, "utf8")
    .replace(/^DEBIAN_MIRROR = .*$/m, `DEBIAN_MIRROR = "${url}"`)
    .replace(/^DEBIAN_KEYRING = .*$/m, `DEBIAN_KEYRING = "${keyring}"`);
  writeFileSync(conf, `${text}${extra}\n`);
}

describe("debian.lock", () => {
  it("pins the set across a suite update until --update; a pinned version gone from the mirror and DL_DIR is an error naming it", async () => {
    // the suite moves on: sed 4.9-2 replaces 4.9-1 (a new repository, a new key)
    const sed = BASE_PACKAGES.find((p) => p.name === "sed")!;
    const newer = await buildFixtureRepo(tmp("repo2"), [...BASE_PACKAGES.filter((p) => p !== sed), { ...sed, version: "4.9-2" }]);
    const server2 = await serveDirectory(newer.root);
    servers.push(server2);

    const root = buildDir(server.url, repo.keyring);
    const locked = await kiln(root, ["debian", "lock", "deb-minbase"]);
    expect(locked.code, locked.out).toBe(0);
    const lockFile = join(root, "build", "debian.lock");
    const lock = JSON.parse(readFileSync(lockFile, "utf8")) as { suite: string; release: { sha256: string; date: string }; packages: { name: string; version: string; sha256: string }[] };
    expect(lock.packages.map((p) => p.name)).toEqual(MINBASE);
    expect(lock.packages.find((p) => p.name === "sed")).toMatchObject({ version: "4.9-1", sha256: sha256(readFileSync(repo.debs.get("sed_4.9-1_amd64")!)) });
    expect(lock.release.sha256).toBe(sha256(readFileSync(join(repo.root, "dists/kiln-test/InRelease"))));
    expect(lock.release.date).toMatch(/2024/);
    const again = await kiln(root, ["debian", "lock", "deb-minbase"]);
    expect(again.code).not.toBe(0);
    expect(again.out).toMatch(/debian\.lock exists/);

    // fetched while the old suite was there: the pinned .debs are in DL_DIR
    expect((await kiln(root, ["deb-minbase"])).code).toBe(0);
    pointAt(root, server2.url, newer.keyring);
    const show = await kiln(root, ["debian", "show", "deb-minbase"]);
    expect(show.code, show.out).toBe(0);
    expect(show.out).toMatch(/^sed 4\.9-1 amd64/m);
    const rebuilt = await kiln(root, ["deb-minbase"]);
    expect(rebuilt.code, rebuilt.out).toBe(0);
    expect(readFileSync(join(deployed(root), "deb-minbase-qemux86-64.manifest"), "utf8")).toContain("sed amd64 4.9-1\n");

    // another build directory with the same lock but an empty DL_DIR: 4.9-1 is nowhere
    const other = buildDir(server2.url, newer.keyring);
    writeFileSync(join(other, "build", "debian.lock"), readFileSync(lockFile));
    const gone = await kiln(other, ["deb-minbase"]);
    expect(gone.code).not.toBe(0);
    expect(gone.out).toMatch(/pins sed 4\.9-1, which kiln-test no longer has/);

    const updated = await kiln(root, ["debian", "lock", "--update", "deb-minbase"]);
    expect(updated.code, updated.out).toBe(0);
    expect(readFileSync(lockFile, "utf8")).toMatch(/"name":"sed","version":"4\.9-2"/);
    const after = await kiln(root, ["deb-minbase"]);
    expect(after.code, after.out).toBe(0);
    expect(readFileSync(join(deployed(root), "deb-minbase-qemux86-64.manifest"), "utf8")).toContain("sed amd64 4.9-2\n");
  }, 180_000);
});

describe("offline", () => {
  it('rebuilds the rootfs with BB_NO_NETWORK = "1": with the mirror gone, then from the local apt repository', async () => {
    const own = await serveDirectory(repo.root);
    const root = buildDir(own.url, repo.keyring);
    expect((await kiln(root, ["deb-minbase"])).code).toBe(0);
    await own.close();
    const manifest = readFileSync(join(deployed(root), "deb-minbase-qemux86-64.manifest"), "utf8");
    const clean = () => {
      for (const dir of ["tmp/work", "tmp/stamps", "tmp/deploy", "sstate-cache"]) rmSync(join(root, "build", dir), { recursive: true, force: true });
    };
    // the mirror is gone: InRelease and the indexes come from DL_DIR, verified again
    clean();
    pointAt(root, own.url, repo.keyring, 'BB_NO_NETWORK = "1"');
    const offline = await kiln(root, ["deb-minbase"]);
    expect(offline.code, offline.out).toBe(0);
    expect(offline.out).toMatch(/deb-minbase:do_rootfs succeeded/);
    expect(readFileSync(join(deployed(root), "deb-minbase-qemux86-64.manifest"), "utf8")).toBe(manifest);
    // the local repository as the mirror
    const local = join(root, "build", "tmp", "debian-repo");
    clean();
    pointAt(root, `file://${local}`, repo.keyring);
    const fromLocal = await kiln(root, ["deb-minbase"]);
    expect(fromLocal.code, fromLocal.out).toBe(0);
    expect(fromLocal.out).toMatch(/deb-minbase:do_rootfs succeeded/);
    expect(readFileSync(join(deployed(root), "deb-minbase-qemux86-64.manifest"), "utf8")).toBe(manifest);
  }, 120_000);
});

describe("bad archives", () => {
  it("an InRelease that does not verify against DEBIAN_KEYRING: nothing is parsed", async () => {
    const root = buildDir(server.url, repo.otherKeyring);
    const { code, out } = await kiln(root, ["debian", "show", "deb-minbase"]);
    expect(code).not.toBe(0);
    expect(out).toMatch(/InRelease: the signature does not verify against .*other-keyring\.gpg/);
    expect(existsSync(join(root, "build", "downloads", "debian", "by-hash"))).toBe(false);
  });

  it("a Release past its Valid-Until is refused, naming the date; DEBIAN_CHECK_VALID_UNTIL = \"0\" accepts it", async () => {
    const copy = tmp("expired");
    execFileSync("cp", ["-a", `${repo.root}/.`, copy]);
    const expired = { ...repo, root: copy };
    await resignRelease(expired, (release) => release.replace(/^(Date: .*)$/m, "$1\nValid-Until: Sat, 01 Jun 2024 13:00:00 UTC"));
    const stale = await serveDirectory(copy);
    servers.push(stale);
    const root = buildDir(stale.url, repo.keyring);
    const refused = await kiln(root, ["debian", "show", "deb-minbase"]);
    expect(refused.code).not.toBe(0);
    expect(refused.out).toMatch(/the Release expired on Sat, 01 Jun 2024 13:00:00 UTC \(Valid-Until\)/);
    pointAt(root, stale.url, repo.keyring, 'DEBIAN_CHECK_VALID_UNTIL = "0"');
    const accepted = await kiln(root, ["debian", "show", "deb-minbase"]);
    expect(accepted.code, accepted.out).toBe(0);
  });

  it("a Packages file whose sha256 is not the signed one is refused and not kept", async () => {
    const copy = tmp("tampered");
    execFileSync("cp", ["-a", `${repo.root}/.`, copy]);
    const xz = join(copy, "dists/kiln-test/main/binary-amd64/Packages.xz");
    writeFileSync(xz, Buffer.concat([readFileSync(xz), Buffer.from("tampered")]));
    const tampered = await serveDirectory(copy);
    servers.push(tampered);
    const root = buildDir(tampered.url, repo.keyring);
    const { code, out } = await kiln(root, ["debian", "show", "deb-minbase"]);
    expect(code).not.toBe(0);
    expect(out).toMatch(/main\/binary-amd64\/Packages\.xz has sha256 [0-9a-f]{64}, but the signed Release says [0-9a-f]{64}/);
    const byHash = join(root, "build", "downloads", "debian", "by-hash");
    expect(existsSync(byHash) ? readdirSync(byHash) : []).toEqual([]);
  });
});
