/**
 * A small Debian-style apt repository for tests, built offline: .debs written by
 * kiln's own writer (@kiln/package writeArPackage), a Packages index (plain, .xz,
 * .gz), a Release file signed by a throwaway GPG key (InRelease + Release.gpg), and a
 * static HTTP server on 127.0.0.1 to serve it. Not a test itself (no `.test.ts`).
 *
 * Layout under `<dir>`:
 *   repo/dists/<suite>/{Release,InRelease,Release.gpg}
 *   repo/dists/<suite>/<comp>/binary-<arch>/Packages{,.xz,.gz}
 *   repo/pool/<comp>/<prefix>/<source>/<name>_<version without epoch>_<arch>.deb
 *   keys/{keyring.gpg,other-keyring.gpg,signing-secret.asc}
 *
 * BASE_PACKAGES models a Debian bookworm base system (amd64), with real field
 * values from bookworm where known, dependency lists trimmed to packages in this
 * repository (except where a missing package is the point). What each one exercises:
 *
 *  Essential: yes (Priority: required) — the set a debootstrap-like resolver starts from:
 *   base-files          Pre-Depends on the virtual `awk` (mawk and gawk provide it; the
 *                       required one, mawk, should win); Provides `base`; ships a
 *                       conffile (/etc/debian_version) and a relative symlink
 *                       (etc/os-release -> ../usr/lib/os-release).
 *   base-passwd         postinst that writes files (/etc/passwd, /etc/group from
 *                       /usr/share/base-passwd/*.master, honouring $DPKG_ROOT);
 *                       Recommends `debconf (>= 0.5) | debconf-2.0`.
 *   bash                Source with a version (`bash (5.2.15-2)`, a binNMU `+b8`);
 *                       Conflicts and Recommends bash-completion, which is NOT in the
 *                       repository (a missing Recommends must be tolerated); ships
 *                       /bin/bash (a path under /bin: merged-/usr handling).
 *   coreutils           Pre-Depends on epoch-versioned libs (libattr1 >= 1:..., libgmp10 >= 2:...).
 *   dash                Pre-Depends + Depends dpkg; ships usr/bin/sh -> dash symlink.
 *   debianutils         tilde inside the package's own version (5.7-0.5~deb12u1).
 *   diffutils           TWO versions: 1:3.8-4 (epoch) and 3.10-1 (higher upstream, no
 *                       epoch); the epoch one is the newer.
 *   dpkg                many Pre-Depends incl. `zlib1g (>= 1:1.1.4)`; Breaks `(<< 1.7~b)`.
 *   findutils, sed      plain Pre-Depends on libraries.
 *   grep, gzip          `dpkg (>= 1.15.4) | install-info` (first alternative available,
 *                       second not); grep Provides and Conflicts `rgrep`.
 *   hostname            Breaks a package not in the repository.
 *   init-system-helpers Architecture: all; Depends `usrmerge | usr-is-merged` (usrmerge is
 *                       first and pulls perl: perl, perl-modules-5.36, libperl5.36).
 *   libc-bin            `libc6 (>> 2.36), libc6 (<< 2.37)`: a range on one package.
 *   login               Pre-Depends on libpam0g, libpam-runtime (arch all), libpam-modules.
 *   ncurses-base        Architecture: all, Essential.
 *   ncurses-bin         Pre-Depends libtinfo6 (>= 6.3).
 *   perl-base           versioned Provides (`libfile-temp-perl (= 0.2311)`) and a plain one
 *                       (`perlapi-5.36.0`); Breaks `perl (<< 5.36.0~)`.
 *   sysvinit-utils      Provides `lsb-base (= 11.1.0)` AND Conflicts `lsb-base (<< 11.3~)`:
 *                       a package never conflicts with itself.
 *   tar                 Conflicts with `<=` (`cpio (<= 2.4.2-38)`).
 *   util-linux          long Pre-Depends list (libblkid1, libmount1, libsystemd0, ...).
 *
 *  Not essential, Priority: required:
 *   mawk                Provides `awk`.
 *   debconf             Architecture: all; Provides `debconf-2.0`; Pre-Depends perl-base (>= 5.20.1-3~).
 *   libpam-modules      Multi-Arch: same, Pre-Depends `libpam-modules-bin (= 1.5.2-6+deb12u1)`
 *                       (exact version) and `debconf (>= 0.5) | debconf-2.0`.
 *   libpam-runtime      arch all; `debconf (>= 1.5.19) | cdebconf` (cdebconf not in repo).
 *   passwd, libpam-modules-bin  plain.
 *   apt                 Depends `gpgv | gpgv2 | gpgv1` (only gpgv exists), adduser,
 *                       debian-archive-keyring, libapt-pkg6.0 (>= 2.6.1); Provides
 *                       `apt-transport-https (= 2.6.1)` and Breaks `apt-transport-https
 *                       (<< 1.5~alpha4~)` (versioned provide vs. own Breaks); Recommends
 *                       ca-certificates (not in repo).
 *
 *  Priority: important:
 *   adduser, debian-archive-keyring   Architecture: all, Multi-Arch: foreign.
 *   gpgv                plain.
 *   init                Pre-Depends `systemd-sysv | sysvinit-core | runit-init`: the FIRST
 *                       alternative is not in the repository; sysvinit-core is.
 *
 *  Libraries (Priority: optional, as in bookworm's index: pulled in by dependencies,
 *  all Multi-Arch: same unless noted):
 *   libc6 (Depends libgcc-s1 — a cycle with libgcc-s1's `libc6 (>= 2.35)`; Recommends
 *   libidn2-0, not in repo), libgcc-s1 (Provides `libgcc1 (= 1:12.2.0-14)`, Depends
 *   `gcc-12-base (= 12.2.0-14)`), gcc-12-base, libstdc++6, libcrypt1 (epoch
 *   1:4.4.33-2), libzstd1, liblzma5, libselinux1 (Source with version), zlib1g (epoch
 *   1:1.2.13.dfsg-1, Provides libz1, Conflicts `zlib1 (<= 1:1.0.4-7)`), libtinfo6,
 *   libacl1, libattr1 (1:), libgmp10 (2:), libbz2-1.0, libmd0, libpcre2-8-0,
 *   libdebconfclient0, libaudit1 (1:), libaudit-common (all, foreign), libcap-ng0,
 *   libcap2 (1:), libpam0g, libblkid1, libmount1, libsmartcols1, libuuid1,
 *   libsystemd0, libudev1, libseccomp2, libxxhash0, libapt-pkg6.0 (Recommends
 *   apt (>= 2.6.1): a Recommends cycle), libperl5.36.
 *
 *  Optional, outside the base set:
 *   gawk                Provides `awk` too (optional; must lose to mawk).
 *   usrmerge            arch all; Depends `perl:any` (an arch qualifier; perl is Multi-Arch: allowed).
 *   usr-is-merged       arch all, foreign; the second alternative of init-system-helpers.
 *   perl (standard)     Multi-Arch: allowed; exact `(= 5.36.0-7+deb12u1)` Depends on
 *                       perl-base and libperl5.36; perl-modules-5.36 (all, foreign).
 *   sysvinit-core       Pre-Depends sysvinit-utils (>= 3.05-4).
 *   hello               TWO versions, 2.10-2 and 2.10-3; 2.10-3 has a postinst writing
 *                       /var/lib/hello/configured; ships an executable usr/bin/hello.
 *   libfoo2             Provides `libfoo-abi (= 2)` (versioned virtual), `libc6 (>= 2.36~)`.
 *   foo                 Depends `libfoo-abi (= 2)` (only satisfiable through the Provides).
 *   foo-plugin          Depends `foo (>= 1.2)`, Breaks `foo (<< 1.2)`.
 *   foo-doc             Architecture: all, Multi-Arch: foreign, Section: doc.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve, sep } from "node:path";
import { gzipSync } from "node:zlib";
import tar from "tar-stream";
import { writeAr } from "@kiln/core";
import { controlText, writeArPackage, type Compression } from "@kiln/package";

export interface FixturePackage {
  name: string;
  version: string;
  /** Default: the repository's arch; or "all". */
  arch?: string;
  depends?: string;
  preDepends?: string;
  recommends?: string;
  provides?: string;
  conflicts?: string;
  breaks?: string;
  essential?: boolean;
  /** Default "optional". */
  priority?: string;
  multiArch?: string;
  section?: string;
  /** `Source`, possibly with a version: `bash (5.2.15-2)`. Default: the package name (not written). */
  source?: string;
  description?: string;
  /** Paths like "usr/bin/foo"; default: usr/share/doc/<name>/copyright. */
  files?: Record<string, string | { content: string; mode?: number } | { symlink: string }>;
  scripts?: Partial<Record<"preinst" | "postinst" | "prerm" | "postrm", string>>;
  /** Absolute paths of conffiles (an addition to the brief's API). */
  conffiles?: string[];
  /** The component it goes into (an addition; default: the first component). */
  component?: string;
}

export interface FixtureRepoOptions {
  /** Default "kiln-test". */
  suite?: string;
  /** Default: the suite. */
  codename?: string;
  /** Default ["main"]. */
  components?: string[];
  /** Default "amd64". */
  arch?: string;
  /** Release `Date` and every mtime in the .debs; default FIXTURE_DATE. */
  date?: Date;
  /** Which compressed Packages files to write (the plain one always is); default ["xz", "gz"]. */
  compress?: ("xz" | "gz")[];
  /** Compression of the .debs' members (an addition); default "xz", as Debian's. */
  debCompression?: Compression;
}

export interface FixtureRepo {
  /** The repository root (what an apt source line points at). */
  root: string;
  /** Binary OpenPGP keyring (gpg --export) that verifies InRelease with `gpgv --keyring`. */
  keyring: string;
  /** Keyring of a different throwaway key. */
  otherKeyring: string;
  suite: string;
  arch: string;
  components: string[];
  /** "name_version_arch" -> absolute .deb path. */
  debs: Map<string, string>;
  /** The armored secret signing key (an addition; resignRelease uses it). */
  signingKey: string;
}

/** The default Release date (fixed: the repository is deterministic but for the signatures). */
export const FIXTURE_DATE = new Date("2024-06-01T12:00:00Z");
export const FIXTURE_MAINTAINER = "Kiln Test <kiln@test.invalid>";

// ---------------------------------------------------------------- process helpers

/** Run a program; resolves with stdout, rejects with its stderr on a non-zero exit. */
export function run(cmd: string, args: string[], opts: { input?: Buffer | string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Buffer> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolvePromise(Buffer.concat(out));
      else reject(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${Buffer.concat(err).toString().trim()}`));
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.input ?? "");
  });
}

// ---------------------------------------------------------------- hashing, layout

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");

/** The version as it appears in a file name: without the epoch. */
export const versionNoEpoch = (v: string) => v.replace(/^\d+:/, "");

/** The source package name, without a `(version)`. */
const sourceName = (p: FixturePackage) => (p.source ?? p.name).replace(/\s*\(.*\)\s*$/, "").trim();

/** Debian's pool prefix: the first letter, or `libX` for lib* sources. */
export const poolPrefix = (source: string) => (source.startsWith("lib") && source.length > 3 ? source.slice(0, 4) : source[0]);

/** RFC 2822 date as Debian writes it in Release. */
export const releaseDate = (d: Date) => d.toUTCString().replace(/GMT$/, "UTC");

// ---------------------------------------------------------------- .debs

function controlFields(p: FixturePackage, arch: string, installedSize: number): [string, string][] {
  const f: [string, string][] = [["Package", p.name]];
  if (p.source) f.push(["Source", p.source]);
  f.push(["Version", p.version], ["Installed-Size", String(installedSize)], ["Maintainer", FIXTURE_MAINTAINER], ["Architecture", arch]);
  const opt = (k: string, v: string | undefined) => {
    if (v !== undefined && v !== "") f.push([k, v]);
  };
  opt("Multi-Arch", p.multiArch);
  opt("Provides", p.provides);
  opt("Pre-Depends", p.preDepends);
  opt("Depends", p.depends);
  opt("Recommends", p.recommends);
  opt("Conflicts", p.conflicts);
  opt("Breaks", p.breaks);
  f.push(["Description", p.description ?? `${p.name} (kiln test fixture)\nA tiny stand-in for the Debian package ${p.name}, built by kiln's test fixture.`]);
  f.push(["Section", p.section ?? "misc"]);
  f.push(["Priority", p.priority ?? "optional"]);
  if (p.essential) f.push(["Essential", "yes"]);
  return f;
}

/** Write the package's files into `tree`; returns their total size in bytes. */
function writeTree(p: FixturePackage, tree: string): number {
  mkdirSync(tree, { recursive: true });
  const files = p.files ?? { [`usr/share/doc/${p.name}/copyright`]: `${p.name}: kiln test fixture, no rights reserved.\n` };
  let bytes = 0;
  for (const [rel, spec] of Object.entries(files)) {
    if (rel.startsWith("/") || rel.split("/").includes("..")) throw new Error(`${p.name}: bad fixture path ${rel}`);
    const path = join(tree, rel);
    mkdirSync(dirname(path), { recursive: true });
    if (typeof spec === "object" && "symlink" in spec) {
      symlinkSync(spec.symlink, path);
      continue;
    }
    const content = typeof spec === "string" ? spec : spec.content;
    const mode = typeof spec === "string" ? 0o644 : (spec.mode ?? 0o644);
    writeFileSync(path, content);
    chmodSync(path, mode);
    bytes += Buffer.byteLength(content);
  }
  return bytes;
}

interface BuiltDeb {
  pkg: FixturePackage;
  arch: string;
  component: string;
  filename: string; // relative to the repository root
  path: string;
  fields: [string, string][];
}

async function buildDeb(p: FixturePackage, repoArch: string, component: string, root: string, work: string, mtime: number, compression: Compression): Promise<BuiltDeb> {
  const arch = p.arch ?? repoArch;
  const src = sourceName(p);
  const filename = `pool/${component}/${poolPrefix(src)}/${src}/${p.name}_${versionNoEpoch(p.version)}_${arch}.deb`;
  const path = join(root, filename);
  mkdirSync(dirname(path), { recursive: true });
  const tree = mkdtempSync(join(work, `${p.name}-`));
  const bytes = writeTree(p, tree);
  const fields = controlFields(p, arch, Math.max(1, Math.ceil(bytes / 1024)));
  await writeArPackage({ control: fields, root: tree, scripts: p.scripts, conffiles: p.conffiles, compression, mtime, md5sums: true }, path);
  rmSync(tree, { recursive: true, force: true });
  return { pkg: p, arch, component, filename, path, fields };
}

// ---------------------------------------------------------------- indices

/** A stanza exactly as the .deb's control file writes the fields. */
const stanza = (fields: [string, string][]) => controlText(fields);

function packagesText(debs: BuiltDeb[]): string {
  const sorted = [...debs].sort((a, b) => (a.pkg.name < b.pkg.name ? -1 : a.pkg.name > b.pkg.name ? 1 : a.pkg.version < b.pkg.version ? -1 : a.pkg.version > b.pkg.version ? 1 : 0));
  return sorted
    .map((d) => {
      const buf = readFileSync(d.path);
      return stanza([...d.fields, ["Filename", d.filename], ["Size", String(buf.length)], ["MD5sum", md5(buf)], ["SHA256", sha256(buf)]]);
    })
    .join("\n");
}

function releaseText(o: { suite: string; codename: string; arch: string; components: string[]; date: Date }, files: { rel: string; data: Buffer }[]): string {
  const head: [string, string][] = [
    ["Origin", "Kiln"],
    ["Label", "Kiln"],
    ["Suite", o.suite],
    ["Codename", o.codename],
    ["Date", releaseDate(o.date)],
    ["Architectures", o.arch],
    ["Components", o.components.join(" ")],
    ["Description", "kiln test repository"],
  ];
  const sorted = [...files].sort((a, b) => (a.rel < b.rel ? -1 : 1));
  const list = (h: (b: Buffer) => string) => sorted.map((f) => ` ${h(f.data)} ${String(f.data.length).padStart(16)} ${f.rel}\n`).join("");
  return `${stanza(head)}MD5Sum:\n${list(md5)}SHA256:\n${list(sha256)}`;
}

// ---------------------------------------------------------------- GPG

const gpgEnv = (home: string): NodeJS.ProcessEnv => ({ ...process.env, GNUPGHOME: home, LC_ALL: "C" });
const GPG = ["--batch", "--no-tty", "--pinentry-mode", "loopback", "--passphrase", ""];

/** A fresh GNUPGHOME (short path: the agent's socket path is limited to ~108 chars); killed and removed after `fn`. */
async function withGnupgHome<T>(fn: (home: string) => Promise<T>): Promise<T> {
  const home = mkdtempSync(join(tmpdir(), "kg-"));
  chmodSync(home, 0o700);
  try {
    return await fn(home);
  } finally {
    await run("gpgconf", ["--kill", "gpg-agent"], { env: gpgEnv(home) }).catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  }
}

async function genKey(home: string, uid: string): Promise<string> {
  const env = gpgEnv(home);
  try {
    await run("gpg", [...GPG, "--quick-gen-key", uid, "ed25519", "sign", "never"], { env });
  } catch {
    await run("gpg", [...GPG, "--quick-gen-key", uid, "rsa2048", "sign", "never"], { env });
  }
  const colons = (await run("gpg", ["--batch", "--with-colons", "--list-secret-keys", uid], { env })).toString();
  const fpr = /^fpr:+([0-9A-F]{40,64}):/m.exec(colons)?.[1];
  if (!fpr) throw new Error(`no fingerprint for ${uid}:\n${colons}`);
  return fpr;
}

async function signRelease(home: string, fpr: string, dist: string): Promise<void> {
  const env = gpgEnv(home);
  const release = join(dist, "Release");
  const sign = [...GPG, "--yes", "--digest-algo", "SHA512", "--local-user", fpr];
  await run("gpg", [...sign, "--clearsign", "--output", join(dist, "InRelease"), release], { env });
  await run("gpg", [...sign, "--armor", "--detach-sign", "--output", join(dist, "Release.gpg"), release], { env });
}

// ---------------------------------------------------------------- the repository

export async function buildFixtureRepo(dir: string, packages: FixturePackage[], options: FixtureRepoOptions = {}): Promise<FixtureRepo> {
  const suite = options.suite ?? "kiln-test";
  const codename = options.codename ?? suite;
  const components = options.components ?? ["main"];
  const arch = options.arch ?? "amd64";
  const date = options.date ?? FIXTURE_DATE;
  const compressions = options.compress ?? ["xz", "gz"];
  const mtime = Math.floor(date.getTime() / 1000);
  const root = resolve(dir, "repo");
  const keys = resolve(dir, "keys");
  mkdirSync(root, { recursive: true });
  mkdirSync(keys, { recursive: true });

  // .debs, a few at a time (each is two short xz runs).
  const work = mkdtempSync(join(tmpdir(), "kiln-fixture-tree-"));
  const built: BuiltDeb[] = [];
  try {
    for (const p of packages) {
      if (p.component && !components.includes(p.component)) throw new Error(`${p.name}: component ${p.component} is not one of ${components.join(", ")}`);
    }
    const queue = packages.map((p) => () => buildDeb(p, arch, p.component ?? components[0], root, work, mtime, options.debCompression ?? "xz"));
    const results: BuiltDeb[][] = [];
    const lanes = Array.from({ length: 8 }, async (_, lane) => {
      const mine: BuiltDeb[] = [];
      for (let i = lane; i < queue.length; i += 8) mine.push(await queue[i]());
      results.push(mine);
    });
    await Promise.all(lanes);
    built.push(...results.flat());
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const debs = new Map<string, string>();
  for (const d of built) {
    const key = `${d.pkg.name}_${d.pkg.version}_${d.arch}`;
    if (debs.has(key)) throw new Error(`duplicate fixture package ${key}`);
    debs.set(key, d.path);
  }

  // Packages indices.
  const dist = join(root, "dists", suite);
  const indexFiles: { rel: string; data: Buffer }[] = [];
  for (const comp of components) {
    const relDir = `${comp}/binary-${arch}`;
    mkdirSync(join(dist, relDir), { recursive: true });
    const plain = Buffer.from(packagesText(built.filter((d) => d.component === comp)));
    const variants: { rel: string; data: Buffer }[] = [{ rel: `${relDir}/Packages`, data: plain }];
    if (compressions.includes("xz")) variants.push({ rel: `${relDir}/Packages.xz`, data: await run("xz", ["-c", "-6", "-T1"], { input: plain }) });
    if (compressions.includes("gz")) variants.push({ rel: `${relDir}/Packages.gz`, data: gzipSync(plain, { level: 9 }) });
    for (const v of variants) writeFileSync(join(dist, v.rel), v.data);
    indexFiles.push(...variants);
  }
  writeFileSync(join(dist, "Release"), releaseText({ suite, codename, arch, components, date }, indexFiles));

  // Keys and signatures.
  const keyring = join(keys, "keyring.gpg");
  const otherKeyring = join(keys, "other-keyring.gpg");
  const signingKey = join(keys, "signing-secret.asc");
  await withGnupgHome(async (home) => {
    const env = gpgEnv(home);
    const fpr = await genKey(home, "kiln test <kiln@test.invalid>");
    const other = await genKey(home, "kiln other <other@test.invalid>");
    writeFileSync(keyring, await run("gpg", ["--batch", "--export", fpr], { env }));
    writeFileSync(otherKeyring, await run("gpg", ["--batch", "--export", other], { env }));
    writeFileSync(signingKey, await run("gpg", [...GPG, "--armor", "--export-secret-keys", fpr], { env }));
    await signRelease(home, fpr, dist);
  });

  return { root, keyring, otherKeyring, suite, arch, components, debs, signingKey };
}

/** Rewrite Release through `mutate` and sign it again (InRelease, Release.gpg) with the repository's key. */
export async function resignRelease(repo: FixtureRepo, mutate: (releaseText: string) => string): Promise<void> {
  const dist = join(repo.root, "dists", repo.suite);
  const release = join(dist, "Release");
  writeFileSync(release, mutate(readFileSync(release, "utf8")));
  const secret = repo.signingKey ?? join(dirname(repo.keyring), "signing-secret.asc");
  await withGnupgHome(async (home) => {
    const env = gpgEnv(home);
    await run("gpg", [...GPG, "--import", secret], { env });
    const colons = (await run("gpg", ["--batch", "--with-colons", "--list-secret-keys"], { env })).toString();
    const fpr = /^fpr:+([0-9A-F]{40,64}):/m.exec(colons)?.[1];
    if (!fpr) throw new Error(`no secret key imported from ${secret}`);
    await signRelease(home, fpr, dist);
  });
}

// ---------------------------------------------------------------- HTTP

/** A static file server for `root` on 127.0.0.1 (an ephemeral port): GET and HEAD, 404 for missing, 403 for escapes. */
export function serveDirectory(root: string): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const base = resolve(root);
  const requests: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const raw = (req.url ?? "/").split("?")[0];
    requests.push(raw);
    const send = (code: number, text: string) => {
      res.writeHead(code, { "content-type": "text/plain", "content-length": Buffer.byteLength(text) });
      res.end(req.method === "HEAD" ? undefined : text);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "method not allowed\n");
    let path: string;
    try {
      path = decodeURIComponent(raw);
    } catch {
      return send(400, "bad request\n");
    }
    if (path.includes("\0") || path.split(/[\\/]/).includes("..")) return send(403, "forbidden\n");
    const file = resolve(base, `.${path.startsWith("/") ? path : `/${path}`}`);
    if (file !== base && !file.startsWith(base + sep)) return send(403, "forbidden\n");
    let size: number;
    try {
      const st = statSync(file);
      if (!st.isFile()) return send(404, "not found\n");
      size = st.size;
    } catch {
      return send(404, "not found\n");
    }
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": size });
    if (req.method === "HEAD") return res.end();
    createReadStream(file)
      .on("error", () => res.destroy())
      .pipe(res);
  });
  return new Promise((resolvePromise, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const addr = server.address();
      if (!addr || typeof addr === "string") return reject(new Error("no address"));
      resolvePromise({
        url: `http://127.0.0.1:${addr.port}`,
        requests,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((e) => (e ? fail(e) : done()));
            server.closeAllConnections();
          }),
      });
    });
  });
}

// ---------------------------------------------------------------- hostile .debs

async function tarBuffer(entries: { header: Partial<tar.Header> & Pick<tar.Header, "name">; content?: string }[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((ok, fail) => {
    pack.on("data", (c) => chunks.push(c as Buffer));
    pack.on("end", () => ok(Buffer.concat(chunks)));
    pack.on("error", fail);
  });
  for (const e of entries) {
    await new Promise<void>((ok, fail) => pack.entry(e.header, e.content ?? "", (err) => (err ? fail(err) : ok())));
  }
  pack.finalize();
  return done;
}

/**
 * A .deb whose data.tar escapes the install root: a member `../evil`, a member
 * `/etc/evil`, or a symlink `./usr/x -> ../../../etc` followed by `./usr/x/evil`.
 * Made by hand (tar-stream + core's writeAr): kiln's writer never produces these.
 * `as` names the package in its control file (default `evil-<kind>` 1.0, all).
 */
export async function badDeb(out: string, kind: "dotdot" | "absolute" | "symlink-escape", as?: { name: string; version: string; arch: string }): Promise<void> {
  const mtime = new Date(FIXTURE_DATE.getTime());
  const common = { uid: 0, gid: 0, uname: "root", gname: "root", mtime };
  const dirEntry = (name: string) => ({ header: { ...common, name, type: "directory" as const, mode: 0o755 } });
  const fileEntry = (name: string, content: string) => ({ header: { ...common, name, type: "file" as const, mode: 0o644, size: Buffer.byteLength(content) }, content });
  const data =
    kind === "dotdot"
      ? [dirEntry("./"), fileEntry("../evil", "evil\n")]
      : kind === "absolute"
        ? [dirEntry("./"), fileEntry("/etc/evil", "evil\n")]
        : [dirEntry("./"), dirEntry("./usr/"), { header: { ...common, name: "./usr/x", type: "symlink" as const, mode: 0o777, linkname: "../../../etc" } }, fileEntry("./usr/x/evil", "evil\n")];
  const control = `Package: ${as?.name ?? `evil-${kind}`}\nVersion: ${as?.version ?? "1.0"}\nArchitecture: ${as?.arch ?? "all"}\nMaintainer: ${FIXTURE_MAINTAINER}\nDescription: a hostile package (${kind})\n`;
  const controlTar = await tarBuffer([dirEntry("./"), fileEntry("./control", control)]);
  const dataTar = await tarBuffer(data);
  const seconds = Math.floor(mtime.getTime() / 1000);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    writeAr(
      [
        { name: "debian-binary", data: Buffer.from("2.0\n") },
        { name: "control.tar.gz", data: gzipSync(controlTar) },
        { name: "data.tar.gz", data: gzipSync(dataTar) },
      ],
      seconds,
    ),
  );
}

// ---------------------------------------------------------------- the base system

const doc = (name: string, text = `${name}: kiln test fixture, no rights reserved.\n`) => ({ [`usr/share/doc/${name}/copyright`]: text });
const script = (name: string, body = `echo "${name} (kiln fixture)"`) => ({ [`usr/bin/${name}`]: { content: `#!/bin/sh\n${body}\n`, mode: 0o755 } });
const lib = (file: string, name: string) => ({ [`usr/lib/x86_64-linux-gnu/${file}`]: `fake ${file} (kiln fixture)\n`, ...doc(name) });

const required = { priority: "required", essential: true, multiArch: "foreign" } as const;
const library = { priority: "optional", multiArch: "same", section: "libs" } as const;

const PERL_V = "5.36.0-7+deb12u1";
const PAM_V = "1.5.2-6+deb12u1";
const GLIBC_V = "2.36-9+deb12u4";
const GCC_V = "12.2.0-14";
const UL_V = "2.38.1-5+b1";
const SYSTEMD_V = "252.22-1~deb12u1";

export const BASE_PACKAGES: FixturePackage[] = [
  // ---- Essential: yes
  {
    name: "base-files", version: "12.4+deb12u5", ...required, section: "admin",
    preDepends: "awk", provides: "base", breaks: "initscripts (<< 2.88dsf-13.3), sendfile (<< 2.1b.20080616-5.2~)",
    files: { "etc/debian_version": "12.5\n", "usr/lib/os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n', "etc/os-release": { symlink: "../usr/lib/os-release" }, ...doc("base-files") },
    conffiles: ["/etc/debian_version"],
  },
  {
    name: "base-passwd", version: "3.6.1", ...required, section: "admin",
    depends: "libc6 (>= 2.34), libdebconfclient0 (>= 0.145), libselinux1 (>= 3.1~)", recommends: "debconf (>= 0.5) | debconf-2.0",
    files: {
      "usr/share/base-passwd/passwd.master": "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n",
      "usr/share/base-passwd/group.master": "root:x:0:\ndaemon:x:1:\n",
      ...doc("base-passwd"),
    },
    scripts: {
      postinst: [
        'root="${DPKG_ROOT:-}"',
        'mkdir -p "$root/etc"',
        'if [ ! -e "$root/etc/passwd" ]; then cp "$root/usr/share/base-passwd/passwd.master" "$root/etc/passwd"; fi',
        'if [ ! -e "$root/etc/group" ]; then cp "$root/usr/share/base-passwd/group.master" "$root/etc/group"; fi',
      ].join("\n"),
    },
  },
  {
    name: "bash", version: "5.2.15-2+b2", source: "bash (5.2.15-2)", ...required, section: "shells",
    preDepends: "libc6 (>= 2.36), libtinfo6 (>= 6)", depends: "base-files (>= 2.1.12), debianutils (>= 5.6-0.1)",
    recommends: "bash-completion (>= 20060301-0)", conflicts: "bash-completion (<< 20060301-0)",
    files: { "bin/bash": { content: '#!/bin/sh\nexec /bin/sh "$@"\n', mode: 0o755 }, ...doc("bash") },
  },
  {
    name: "coreutils", version: "9.1-1", ...required, section: "utils",
    preDepends: "libacl1 (>= 2.2.23), libattr1 (>= 1:2.4.44), libc6 (>= 2.34), libgmp10 (>= 2:6.2.1+dfsg1), libselinux1 (>= 3.1~)",
    files: { ...script("true", "exit 0"), ...doc("coreutils") },
  },
  {
    name: "dash", version: "0.5.12-2", ...required, section: "shells",
    preDepends: "libc6 (>= 2.34)", depends: "debianutils (>= 5.6-0.1), dpkg (>= 1.19.1)",
    files: { ...script("dash", 'exec /bin/sh "$@"'), "usr/bin/sh": { symlink: "dash" }, ...doc("dash") },
  },
  { name: "debianutils", version: "5.7-0.5~deb12u1", ...required, section: "utils", preDepends: "libc6 (>= 2.34)", breaks: "ifupdown (<< 0.8.36+nmu1), x11-common (<< 1:7.7+23~)", files: { ...script("run-parts"), ...doc("debianutils") } },
  { name: "diffutils", version: "1:3.8-4", ...required, multiArch: undefined, section: "utils", preDepends: "libc6 (>= 2.34)" },
  { name: "diffutils", version: "3.10-1", ...required, multiArch: undefined, section: "utils", preDepends: "libc6 (>= 2.34)", description: "diffutils (kiln test fixture, loses to 1:3.8-4)\nA higher upstream version without an epoch: the epoch'd 1:3.8-4 is newer." },
  {
    name: "dpkg", version: "1.21.22", ...required, section: "admin",
    preDepends: "libbz2-1.0, libc6 (>= 2.34), liblzma5 (>= 5.4.0), libmd0 (>= 0.0.0), libselinux1 (>= 3.1~), libzstd1 (>= 1.5.2), zlib1g (>= 1:1.1.4)",
    depends: "tar (>= 1.28-1)", breaks: "libapt-pkg5.0 (<< 1.7~b), lsb-base (<< 10.2019031300)",
    files: { ...script("dpkg"), ...doc("dpkg") },
  },
  { name: "findutils", version: "4.9.0-4", ...required, section: "utils", preDepends: "libc6 (>= 2.34), libselinux1 (>= 3.1~)", breaks: "mc (<< 3:4.8.11-1)" },
  { name: "grep", version: "3.8-5", ...required, section: "utils", preDepends: "libc6 (>= 2.34), libpcre2-8-0 (>= 10.32)", depends: "dpkg (>= 1.15.4) | install-info", provides: "rgrep", conflicts: "rgrep" },
  { name: "gzip", version: "1.12-1", ...required, multiArch: undefined, section: "utils", preDepends: "libc6 (>= 2.33)", depends: "dpkg (>= 1.15.4) | install-info" },
  { name: "hostname", version: "3.23+nmu1", ...required, multiArch: undefined, section: "admin", preDepends: "libc6 (>= 2.34)", breaks: "nis (<< 3.17-30)" },
  { name: "init-system-helpers", version: "1.65.2", arch: "all", ...required, section: "admin", depends: "usrmerge | usr-is-merged" },
  { name: "libc-bin", version: GLIBC_V, source: "glibc", ...required, section: "libs", depends: "libc6 (>> 2.36), libc6 (<< 2.37)", recommends: "manpages" },
  {
    name: "login", version: "1:4.13+dfsg1-1+b1", source: "shadow (1:4.13+dfsg1-1)", ...required, section: "admin",
    preDepends: "libaudit1 (>= 1:2.2.1), libc6 (>= 2.34), libcrypt1 (>= 1:4.1.0), libpam0g (>= 0.99.7.1), libpam-runtime, libpam-modules",
  },
  { name: "ncurses-base", version: "6.4-4", arch: "all", source: "ncurses", ...required, section: "utils", provides: "ncurses-runtime", breaks: "libtinfo5 (<< 6.1)" },
  { name: "ncurses-bin", version: "6.4-4", source: "ncurses", ...required, section: "utils", preDepends: "libc6 (>= 2.34), libtinfo6 (>= 6.3)" },
  {
    name: "perl-base", version: PERL_V, source: "perl", ...required, multiArch: undefined, section: "perl",
    preDepends: "libc6 (>= 2.35), libcrypt1 (>= 1:4.1.0), dpkg (>= 1.17.17)",
    provides: "libfile-temp-perl (= 0.2311), libio-socket-ip-perl (= 0.41), perlapi-5.36.0", breaks: "perl (<< 5.36.0~), perl-modules (<< 5.36.0~)",
  },
  { name: "sed", version: "4.9-1", ...required, section: "utils", preDepends: "libacl1 (>= 2.2.23), libc6 (>= 2.34), libselinux1 (>= 3.1~)" },
  { name: "sysvinit-utils", version: "3.06-4", source: "sysvinit", ...required, section: "admin", depends: "libc6 (>= 2.34)", provides: "lsb-base (= 11.1.0)", conflicts: "lsb-base (<< 11.3~)" },
  { name: "tar", version: "1.34+dfsg-1.2+deb12u1", ...required, section: "utils", preDepends: "libacl1 (>= 2.2.23), libc6 (>= 2.34), libselinux1 (>= 3.1~)", breaks: "dpkg-dev (<< 1.14.26)", conflicts: "cpio (<= 2.4.2-38)" },
  {
    name: "util-linux", version: UL_V, source: "util-linux (2.38.1-5)", ...required, section: "utils",
    preDepends: "libblkid1 (>= 2.37.2), libc6 (>= 2.34), libcap-ng0 (>= 0.7.9), libcrypt1 (>= 1:4.1.0), libmount1 (>= 2.38), libpam0g (>= 0.99.7.1), libselinux1 (>= 3.1~), libsmartcols1 (>= 2.38), libsystemd0, libtinfo6 (>= 6), libudev1 (>= 183), libuuid1 (>= 2.16), zlib1g (>= 1:1.1.4)",
    provides: "hardlink", conflicts: "hardlink", recommends: "sensible-utils",
  },

  // ---- Priority: required, not essential
  { name: "mawk", version: "1.3.4.20200120-3.1", priority: "required", multiArch: "foreign", section: "interpreters", depends: "libc6 (>= 2.29)", provides: "awk", files: { ...script("mawk"), ...doc("mawk") } },
  { name: "debconf", version: "1.5.82", arch: "all", priority: "required", multiArch: "foreign", section: "admin", preDepends: "perl-base (>= 5.20.1-3~)", provides: "debconf-2.0", conflicts: "cdebconf (<< 0.96), debconf-tiny", recommends: "apt-utils (>= 0.5.1), debconf-i18n" },
  { name: "libpam-modules-bin", version: PAM_V, source: "pam", priority: "required", multiArch: "foreign", section: "admin", depends: "libaudit1 (>= 1:2.2.1), libc6 (>= 2.34), libcrypt1 (>= 1:4.1.0), libpam0g (>= 0.99.7.1), libselinux1 (>= 3.1~)" },
  {
    name: "libpam-modules", version: PAM_V, source: "pam", priority: "required", multiArch: "same", section: "admin",
    preDepends: `libaudit1 (>= 1:2.2.1), libc6 (>= 2.34), libcrypt1 (>= 1:4.3.0), libpam0g (>= 1.4.1), libselinux1 (>= 3.1~), debconf (>= 0.5) | debconf-2.0, libpam-modules-bin (= ${PAM_V})`,
    provides: "libpam-mkhomedir, libpam-motd, libpam-umask", conflicts: "libpam-mkhomedir, libpam-motd, libpam-umask",
    files: lib("security/pam_unix.so", "libpam-modules"),
  },
  { name: "libpam-runtime", version: PAM_V, arch: "all", source: "pam", priority: "required", multiArch: "foreign", section: "admin", depends: "debconf (>= 0.5) | debconf-2.0, debconf (>= 1.5.19) | cdebconf, libpam-modules (>= 1.0.1-6)", conflicts: "libpam0g-util" },
  { name: "passwd", version: "1:4.13+dfsg1-1+b1", source: "shadow (1:4.13+dfsg1-1)", priority: "required", multiArch: "foreign", section: "admin", depends: "libaudit1 (>= 1:2.2.1), libc6 (>= 2.34), libcrypt1 (>= 1:4.1.0), libpam0g (>= 0.99.7.1), libselinux1 (>= 3.1~), libpam-modules" },
  {
    name: "apt", version: "2.6.1", priority: "required", multiArch: undefined, section: "admin",
    depends: "adduser, gpgv | gpgv2 | gpgv1, libapt-pkg6.0 (>= 2.6.1), debian-archive-keyring, libc6 (>= 2.34), libgcc-s1 (>= 3.0), libseccomp2 (>= 2.4.2), libstdc++6 (>= 11), libsystemd0",
    provides: "apt-transport-https (= 2.6.1)", breaks: "apt-transport-https (<< 1.5~alpha4~), apt-utils (<< 1.3~exp2~), aptitude (<< 0.8.10)", recommends: "ca-certificates",
    files: { ...script("apt"), ...doc("apt") },
  },

  // ---- Priority: important
  { name: "adduser", version: "3.134", arch: "all", priority: "important", multiArch: "foreign", section: "admin", depends: "passwd" },
  { name: "debian-archive-keyring", version: "2023.3+deb12u1", arch: "all", priority: "important", multiArch: "foreign", section: "misc", files: { "usr/share/keyrings/debian-archive-keyring.gpg": "not a real keyring (kiln fixture)\n", ...doc("debian-archive-keyring") } },
  { name: "gpgv", version: "2.2.40-1.1", source: "gnupg2", priority: "important", multiArch: "foreign", section: "utils", depends: "libbz2-1.0, libc6 (>= 2.34), zlib1g (>= 1:1.1.4)", breaks: "gnupg2 (<< 2.0.21-2), gpgv2 (<< 2.1.11-7+exp1)" },
  { name: "init", version: "1.65.2", source: "init-system-helpers", priority: "important", multiArch: undefined, section: "metapackages", preDepends: "systemd-sysv | sysvinit-core | runit-init" },

  // ---- libraries
  { name: "libc6", version: GLIBC_V, source: "glibc", ...library, depends: "libgcc-s1", recommends: "libidn2-0 (>= 2.0.5~)", breaks: "locales (<< 2.36), nscd (<< 2.36), libc0.1 (<< 2.35-4)", files: { ...lib("libc.so.6", "libc6"), "usr/lib64/ld-linux-x86-64.so.2": { symlink: "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" } } },
  { name: "libgcc-s1", version: GCC_V, source: "gcc-12", ...library, depends: `gcc-12-base (= ${GCC_V}), libc6 (>= 2.35)`, provides: `libgcc1 (= 1:${GCC_V})`, files: lib("libgcc_s.so.1", "libgcc-s1") },
  { name: "gcc-12-base", version: GCC_V, source: "gcc-12", ...library, breaks: "gnat (<< 7)" },
  { name: "libstdc++6", version: GCC_V, source: "gcc-12", ...library, depends: `gcc-12-base (= ${GCC_V}), libc6 (>= 2.36), libgcc-s1 (>= 4.2)`, conflicts: "scim (<< 1.4.2-1)" },
  { name: "libcrypt1", version: "1:4.4.33-2", source: "libxcrypt", ...library, depends: "libc6 (>= 2.36)", conflicts: "libpam0g (<< 1.4.0-10)", files: lib("libcrypt.so.1", "libcrypt1") },
  { name: "libzstd1", version: "1.5.4+dfsg2-5", source: "libzstd", ...library, depends: "libc6 (>= 2.34)" },
  { name: "liblzma5", version: "5.4.1-0.2", source: "xz-utils", ...library, depends: "libc6 (>= 2.34)", breaks: "liblzma2 (<< 5.1.1alpha+20110809-3~)" },
  { name: "libselinux1", version: "3.4-1+b6", source: "libselinux (3.4-1)", ...library, depends: "libc6 (>= 2.34), libpcre2-8-0 (>= 10.22)" },
  { name: "zlib1g", version: "1:1.2.13.dfsg-1", source: "zlib", ...library, depends: "libc6 (>= 2.14)", provides: "libz1", breaks: "libxml2 (<< 2.7.6.dfsg-2)", conflicts: "zlib1 (<= 1:1.0.4-7)" },
  { name: "libtinfo6", version: "6.4-4", source: "ncurses", ...library, depends: "libc6 (>= 2.34)" },
  { name: "libacl1", version: "2.3.1-3", source: "acl", ...library, depends: "libc6 (>= 2.33)" },
  { name: "libattr1", version: "1:2.5.1-4", source: "attr", ...library, depends: "libc6 (>= 2.4)" },
  { name: "libgmp10", version: "2:6.2.1+dfsg1-1.1", source: "gmp", ...library, depends: "libc6 (>= 2.14)" },
  { name: "libbz2-1.0", version: "1.0.8-5+b1", source: "bzip2 (1.0.8-5)", ...library, depends: "libc6 (>= 2.4)" },
  { name: "libmd0", version: "1.0.4-2", source: "libmd", ...library, depends: "libc6 (>= 2.33)" },
  { name: "libpcre2-8-0", version: "10.42-1", source: "pcre2", ...library, depends: "libc6 (>= 2.34)" },
  { name: "libdebconfclient0", version: "0.270", source: "cdebconf", ...library, depends: "libc6 (>= 2.4)" },
  { name: "libaudit1", version: "1:3.0.9-1", source: "audit", ...library, depends: "libaudit-common (>= 1:3.0.9-1), libc6 (>= 2.33), libcap-ng0 (>= 0.7.9)" },
  { name: "libaudit-common", version: "1:3.0.9-1", arch: "all", source: "audit", ...library, multiArch: "foreign" },
  { name: "libcap-ng0", version: "0.8.3-1+b3", source: "libcap-ng (0.8.3-1)", ...library, depends: "libc6 (>= 2.33)" },
  { name: "libcap2", version: "1:2.66-4", source: "libcap2", ...library, depends: "libc6 (>= 2.34)" },
  { name: "libpam0g", version: PAM_V, source: "pam", ...library, depends: "libaudit1 (>= 1:2.2.1), libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0" },
  { name: "libblkid1", version: UL_V, source: "util-linux (2.38.1-5)", ...library, depends: "libc6 (>= 2.33)" },
  { name: "libmount1", version: UL_V, source: "util-linux (2.38.1-5)", ...library, depends: "libblkid1 (>= 2.17.2), libc6 (>= 2.34), libselinux1 (>= 3.1~)" },
  { name: "libsmartcols1", version: UL_V, source: "util-linux (2.38.1-5)", ...library, depends: "libc6 (>= 2.33)" },
  { name: "libuuid1", version: UL_V, source: "util-linux (2.38.1-5)", ...library, depends: "libc6 (>= 2.25)" },
  { name: "libsystemd0", version: SYSTEMD_V, source: "systemd", ...library, depends: "libc6 (>= 2.34), libcap2 (>= 1:2.10), liblzma5 (>= 5.1.1alpha+20120614), libzstd1 (>= 1.5.2)" },
  { name: "libudev1", version: SYSTEMD_V, source: "systemd", ...library, depends: "libc6 (>= 2.34)" },
  { name: "libseccomp2", version: "2.5.4-1+b3", source: "libseccomp (2.5.4-1)", ...library, depends: "libc6 (>= 2.4)" },
  { name: "libxxhash0", version: "0.8.1-1", source: "xxhash", ...library, depends: "libc6 (>= 2.14)" },
  {
    name: "libapt-pkg6.0", version: "2.6.1", source: "apt", ...library,
    depends: "libbz2-1.0, libc6 (>= 2.34), libgcc-s1 (>= 3.0), liblzma5 (>= 5.1.1alpha+20120614), libstdc++6 (>= 11), libsystemd0 (>= 221), libudev1 (>= 183), libxxhash0 (>= 0.7.1), libzstd1 (>= 1.5.2), zlib1g (>= 1:1.2.2.3)",
    provides: "libapt-pkg (= 2.6.1)", breaks: "apt (<< 1.6~), dpkg (<< 1.20.8)", recommends: "apt (>= 2.6.1)",
  },
  { name: "libperl5.36", version: PERL_V, source: "perl", ...library, depends: `libbz2-1.0, libc6 (>= 2.35), libcrypt1 (>= 1:4.1.0), zlib1g (>= 1:1.2.2.3), perl-modules-5.36 (>= ${PERL_V})` },

  // ---- optional, outside the base set
  { name: "gawk", version: "1:5.2.1-2", priority: "optional", multiArch: "foreign", section: "interpreters", preDepends: "libc6 (>= 2.36), libgmp10 (>= 2:6.2.1+dfsg1)", provides: "awk", files: { ...script("gawk"), ...doc("gawk") } },
  { name: "usrmerge", version: "37~deb12u1", arch: "all", priority: "optional", section: "admin", depends: "perl:any" },
  { name: "usr-is-merged", version: "37~deb12u1", arch: "all", source: "usrmerge", priority: "optional", multiArch: "foreign", section: "admin", conflicts: "debianutils (<< 4.5~), coreutils (<< 8.24-1~)" },
  { name: "perl", version: PERL_V, priority: "standard", multiArch: "allowed", section: "perl", preDepends: "dpkg (>= 1.17.17)", depends: `perl-base (= ${PERL_V}), perl-modules-5.36 (>= ${PERL_V}), libperl5.36 (= ${PERL_V})`, recommends: "netbase" },
  { name: "perl-modules-5.36", version: PERL_V, arch: "all", source: "perl", priority: "standard", multiArch: "foreign", section: "perl", depends: "perl-base (>= 5.36.0-1)", breaks: "perl (<< 5.36.0-7~)" },
  { name: "sysvinit-core", version: "3.06-4", source: "sysvinit", priority: "optional", multiArch: undefined, section: "admin", preDepends: "sysvinit-utils (>= 3.05-4)", depends: "libc6 (>= 2.34), libselinux1 (>= 3.1~)", recommends: "orphan-sysvinit-scripts" },
  { name: "hello", version: "2.10-2", section: "devel", depends: "libc6 (>= 2.34)", files: { ...script("hello", 'echo "Hello, world! (2.10-2)"'), ...doc("hello") } },
  {
    name: "hello", version: "2.10-3", section: "devel", depends: "libc6 (>= 2.34)",
    files: { ...script("hello", 'echo "Hello, world!"'), ...doc("hello") },
    scripts: { postinst: 'mkdir -p "${DPKG_ROOT:-}/var/lib/hello"\necho "hello 2.10-3 configured" > "${DPKG_ROOT:-}/var/lib/hello/configured"' },
  },
  { name: "libfoo2", version: "1.3-1", source: "foo", ...library, depends: "libc6 (>= 2.36~)", provides: "libfoo-abi (= 2)" },
  { name: "foo", version: "1.3-1", section: "utils", depends: "libfoo-abi (= 2), libc6 (>= 2.36~)", files: { ...script("foo"), ...doc("foo") } },
  { name: "foo-plugin", version: "1.0-1", source: "foo", section: "utils", depends: "foo (>= 1.2)", breaks: "foo (<< 1.2)" },
  { name: "foo-doc", version: "1.3-1", arch: "all", source: "foo", multiArch: "foreign", section: "doc" },
];
