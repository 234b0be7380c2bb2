/**
 * A Debian root filesystem from .deb files, in two steps as debootstrap and
 * mmdebstrap take them:
 *
 * - `assembleRootfs` — what `dpkg --unpack` of every package would leave, without
 *   running anything from the packages: the merged-/usr aliases (debootstrap's
 *   `setup_merged_usr`), every package's data unpacked (conffiles as
 *   `<path>.dpkg-new`), and dpkg's database recording each package as
 *   `install ok unpacked`. Needs no privileges beyond writing the directory (files
 *   keep the packages' owners only when run as root).
 * - `configureRootfs` — as root: in a chroot with /proc and the basic device nodes,
 *   every unpacked package's `preinst install`, then `dpkg --configure -a`.
 *
 * The image plugin's ar reader is reused for the control part; the payload is
 * unpacked straight into the rootfs by a Debian-aware extractor (core's refuses
 * absolute symlinks and hard links, which real Debian packages carry: libc6's
 * `/lib64/ld-linux-x86-64.so.2 -> /lib/...`, perl-base's hard-linked `perl`) that
 * checks every path against the tree and the other packages' files.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { dirname, join, posix } from "node:path";
import { KilnError, tarEntries } from "@kiln/core";
import { decompress, XzDecoders } from "@kiln/package";
import { MAINTAINER_SCRIPTS, openArPackage, parseStanzas, type OpenedPackage, type Stanza } from "@kiln/image";
import type { DebianPackage } from "./types.js";

export interface RootfsPackage {
  pkg: DebianPackage;
  /** Path of the .deb. */
  deb: string;
}

export interface AssembleOptions {
  /** The root filesystem to create: absent, or an empty directory. */
  rootfs: string;
  /** The native architecture (dpkg's spelling: amd64, arm64, ...). */
  arch: string;
  /** Make /bin, /sbin, /lib (and the architecture's multilib dirs) symlinks into /usr first. */
  mergedUsr: boolean;
  log?(line: string): void;
}

export interface ConfigureOptions {
  rootfs: string;
  log?(line: string): void;
  /** Extra environment of the maintainer scripts and dpkg (over the defaults). */
  env?: Record<string, string>;
}

/**
 * The top-level directories debootstrap's `setup_merged_usr` turns into symlinks
 * `<dir> -> usr/<dir>`: bin, sbin, lib and the architecture's multilib/RTLD dirs.
 */
export const MERGED_USR_DIRS = (arch: string): string[] => {
  if (arch.startsWith("hurd-")) return [];
  const extra: Record<string, string[]> = {
    amd64: ["lib32", "lib64", "libx32"],
    i386: ["lib64", "libx32"],
    mips: ["lib32", "lib64"],
    mipsel: ["lib32", "lib64"],
    powerpc: ["lib64"],
    ppc64: ["lib32", "lib64"],
    ppc64el: ["lib64"],
    s390x: ["lib32"],
    sparc: ["lib64"],
    sparc64: ["lib32", "lib64"],
    x32: ["lib32", "lib64", "libx32"],
  };
  const multilib = /^(mips64|mipsn32)/.test(arch) ? ["lib32", "lib64", "libo32"] : (extra[arch] ?? []);
  return ["bin", "sbin", "lib", ...multilib];
};

const ADMIN = "var/lib/dpkg";

const pkgError = (name: string, file: string, message: string, cause?: unknown) =>
  new KilnError("FATAL", `package ${name} (${file}): ${message}`, { details: { package: name, file }, cause });

const isRoot = () => process.getuid?.() === 0;
/**
 * How long an unpack runs before it lets the event loop read: the xz programs decoding
 * the next payloads write into pipes that hold ~200 KiB, which they fill in a few ms
 * and then wait on this thread (unpacking libc6 takes ~50 ms).
 */
const YIELD_EVERY_MS = 2;

// ---------------------------------------------------------------- extraction

export const newPayload = (): Payload => ({ order: [], type: new Map(), owner: new Map(), md5: new Map(), wantMd5: true });

/** What the extractor saw of one package's payload. */
export interface Payload {
  /** Member paths (no `./`, no trailing `/`) in archive order: dpkg's `.list` order. */
  order: string[];
  type: Map<string, "file" | "directory" | "symlink">;
  owner: Map<string, { uid: number; gid: number }>;
  /** md5 of every regular file, when `wantMd5` (dpkg computes md5sums when a package has none). */
  md5: Map<string, string>;
  wantMd5: boolean;
}

/** When unpacking into a tree shared by packages: who owns which path, and who is unpacking. */
export interface SharedTree {
  /** Resolved path (relative to the tree) -> the package that shipped it. */
  owners: Map<string, string>;
  pkg: string;
  /**
   * Resolved paths (relative to the tree) known to be real directories. Nothing
   * unpacked may replace a directory, so once seen one stays one: the packages after
   * need not look again (every package lists usr/, usr/share/, ...).
   */
  realDirs: Set<string>;
}

/**
 * Unpack a Debian data.tar into `dest` as dpkg would: straight into the tree, which
 * may hold other packages already (`shared`). Refused: absolute or `..` names, a
 * member below a symlink or a file of the same package, a hard link to anything but
 * an earlier regular file, a file where the tree has a directory (or the reverse),
 * and a file another package owns. Parent directories are found as a chroot would
 * find them: symlinks in the tree (merged /usr's `bin -> usr/bin`, another package's
 * `var/run -> /run`) are followed with absolute targets taken from the tree's root,
 * so nothing is ever written outside it; a relative target climbing above the root
 * is refused. Symlinks are unpacked as they are. Device nodes and FIFOs are refused
 * (their creation is left to maintainer scripts). Files get the archive's mtimes,
 * and, as root, its owners.
 */
export async function extractDebPayload(data: Buffer, dest: string, what: string, seen: Payload = newPayload(), shared?: SharedTree): Promise<void> {
  const root = realpathSync(dest);
  const chown = isRoot();
  const realDirs = shared?.realDirs ?? new Set<string>();
  const bad = (name: string, why: string) => new KilnError("FATAL", `${what}: member '${name}' ${why}`, { details: { member: name } });
  const clean = (raw: string): string => {
    if (raw.startsWith("/")) throw bad(raw, "has an absolute path");
    // the usual `./usr/bin/x`: no `.` or `..` component, no doubled slash, nothing to normalise
    if (raw.startsWith("./") && !raw.includes("/.", 1) && !raw.includes("//")) return raw.endsWith("/") ? raw.slice(2, -1) : raw.slice(2);
    const n = posix.normalize(raw.replace(/^(\.\/)+/, "").replace(/\/+$/, "") || ".");
    if (n.split("/").includes("..") || raw.split("/").includes("..")) throw bad(raw, "escapes the root filesystem ('..')");
    return n === "." ? "" : n;
  };
  const relOf = (abs: string) => (abs === root ? "" : abs.slice(root.length + 1));
  /** Where the directory `rel` (a path of the payload) really is, made if missing. */
  const dirs = new Map<string, string>([["", root]]);
  const resolveDir = (rel: string, raw: string, hops = 0): string => {
    const known = dirs.get(rel);
    if (known !== undefined) return known;
    const own = seen.type.get(rel);
    if (own === "symlink") throw bad(raw, `would be unpacked through the symlink '${rel}' of the same package`);
    if (own === "file") throw bad(raw, `would be unpacked below the file '${rel}'`);
    const slash = rel.lastIndexOf("/");
    const parent = resolveDir(slash < 0 ? "" : rel.slice(0, slash), raw, hops);
    const at = join(parent, rel.slice(slash + 1));
    if (realDirs.has(relOf(at))) {
      dirs.set(rel, at);
      return at;
    }
    const st = lstatSync(at, { throwIfNoEntry: false });
    let real = at;
    if (!st) {
      // a parent the payload does not list (tar allows that): made here
      mkdirSync(at);
      realDirs.add(relOf(at));
    } else if (st.isSymbolicLink()) {
      if (hops > 40) throw bad(raw, `goes through more than 40 symlinks at '${rel}'`);
      const target = readlinkSync(at);
      // one component at a time, each where it really is: `..` after a link leaves the
      // link's target, not the link's name (`/t -> s/../share` with `/s -> usr/lib` is
      // /usr/share)
      let cur = target.startsWith("/") ? "" : relOf(parent);
      for (const part of target.split("/")) {
        if (part === "" || part === ".") continue;
        if (part !== "..") cur = relOf(resolveDir(cur ? `${cur}/${part}` : part, raw, hops + 1));
        else if (cur) cur = cur.includes("/") ? cur.slice(0, cur.lastIndexOf("/")) : "";
        else throw bad(raw, `would be unpacked through the link '${rel}' -> '${target}', which climbs above the root filesystem`);
      }
      real = join(root, cur);
      if (!lstatSync(real).isDirectory()) throw bad(raw, `would be unpacked below '${rel}', which is not a directory`);
    } else if (!st.isDirectory()) {
      throw bad(raw, `would be unpacked below the file '${rel}'${shared?.owners.has(relOf(at)) ? ` of package ${shared.owners.get(relOf(at))}` : ""}`);
    } else realDirs.add(relOf(at));
    dirs.set(rel, real);
    return real;
  };
  const mtimes: [string, number][] = [];
  /** Make `target` with `create`; what is already there (another package's, a link) is checked first, then replaced. */
  const place = (target: string, key: string, name: string, file: boolean, create: () => void) => {
    try {
      return create();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    if (lstatSync(target).isDirectory()) throw bad(name, `is a ${file ? "file" : "link"}, but the root filesystem has a directory there`);
    rmSync(target, { force: true });
    create();
  };
  let entries;
  try {
    entries = [...tarEntries(data)];
  } catch (err) {
    throw new KilnError("FATAL", `${what}: data.tar cannot be read: ${(err as Error).message}`, { cause: err });
  }
  let due = performance.now() + YIELD_EVERY_MS;
  for (const h of entries) {
    if (performance.now() >= due) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      due = performance.now() + YIELD_EVERY_MS;
    }
    const name = clean(h.name);
    if (!name) continue;
    const slash = name.lastIndexOf("/");
    const parent = resolveDir(slash < 0 ? "" : name.slice(0, slash), h.name);
    const target = join(parent, name.slice(slash + 1));
    const key = relOf(target);
    const before = seen.type.get(name);
    if (before !== undefined && !(before === "directory" && h.type === "directory")) throw bad(h.name, "appears twice in the payload");
    const owner = shared?.owners.get(key);
    const mode = h.mode & 0o7777;
    const { uid, gid, mtime } = h;
    // created as root:root by root: a chown only for other owners
    const chownTo = chown && (uid !== 0 || gid !== 0);
    if (h.type === "directory") {
      let linked = false;
      // an earlier package's directory: nothing to make (mkdir's EEXIST error costs more than the set)
      if (before === undefined && !realDirs.has(key)) {
        let made = true;
        try {
          mkdirSync(target);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
          made = false;
          const existing = lstatSync(target);
          if (existing.isSymbolicLink()) linked = true;
          else if (!existing.isDirectory()) throw bad(h.name, `is a directory, but ${owner ? `package ${owner}` : "the root filesystem"} has a file there`);
        }
        if (!linked) realDirs.add(key);
        if (made) {
          chmodSync(target, mode);
          if (chownTo) lchownSync(target, uid, gid);
          mtimes.push([target, mtime]);
        }
      }
      // a directory of the tree that is a symlink (merged /usr's `bin`): followed, checked
      if (!dirs.has(name)) dirs.set(name, linked ? resolveDir(name, h.name) : target);
      seen.type.set(name, "directory");
    } else {
      if (owner && owner !== shared?.pkg) throw bad(h.name, `would overwrite /${key}, which is also in package ${owner}`);
      if (h.type === "symlink") {
        place(target, key, h.name, false, () => symlinkSync(h.linkname, target));
        if (chownTo) lchownSync(target, uid, gid);
        lutimesSync(target, mtime, mtime);
        seen.type.set(name, "symlink");
      } else if (h.type === "link") {
        const to = clean(h.linkname);
        if (seen.type.get(to) !== "file") throw bad(h.name, `is a hard link to '${h.linkname}', which is not an earlier regular file of the package`);
        const toSlash = to.lastIndexOf("/");
        place(target, key, h.name, true, () => linkSync(join(resolveDir(toSlash < 0 ? "" : to.slice(0, toSlash), h.name), to.slice(toSlash + 1)), target));
        if (seen.md5.has(to)) seen.md5.set(name, seen.md5.get(to) as string);
        seen.type.set(name, "file");
      } else if (h.type === "file" || h.type === "contiguous-file") {
        let fd = -1;
        place(target, key, h.name, true, () => (fd = openSync(target, "wx", 0o600)));
        try {
          for (let off = 0; off < h.body.length; ) off += writeSync(fd, h.body, off);
          if (chownTo) fchownSync(fd, uid, gid);
          fchmodSync(fd, mode); // after chown, which clears set-id bits
          futimesSync(fd, mtime, mtime);
        } finally {
          closeSync(fd);
        }
        if (seen.wantMd5) seen.md5.set(name, createHash("md5").update(h.body).digest("hex"));
        seen.type.set(name, "file");
      } else {
        throw bad(h.name, `is a ${h.type === "unknown" ? `member of tar type '${h.flag}'` : h.type}, which kiln does not unpack`);
      }
      shared?.owners.set(key, shared.pkg);
    }
    seen.order.push(name);
    seen.owner.set(name, { uid, gid });
  }
  // directories last, deepest first: unpacking into them changed their mtimes
  for (const [dir, t] of mtimes.reverse()) utimesSync(dir, t, t);
}

// ---------------------------------------------------------------- assembling

interface Unpacked {
  opened: OpenedPackage;
  control: Stanza;
  multiArch: string;
  payload: Payload;
}

/** A path under `root` (relative) that must be a real directory inside it — created if absent, never through a symlink. */
function realDir(root: string, rel: string, what: string): string {
  let at = root;
  for (const part of rel.split("/")) {
    at = join(at, part);
    const st = lstatSync(at, { throwIfNoEntry: false });
    if (!st) mkdirSync(at, { mode: 0o755 });
    else if (!st.isDirectory()) throw new KilnError("FATAL", `${what}: /${rel} must be a directory, but /${posix.relative(root, at)} is ${st.isSymbolicLink() ? "a symlink" : "a file"}`);
  }
  return at;
}

/** The directory exists and has nothing in it but maybe an empty lost+found (a fresh filesystem's; mmdebstrap allows it too). */
function isEmptyTarget(dir: string): boolean {
  const entries = readdirSync(dir);
  return entries.every((e) => e === "lost+found" && lstatSync(join(dir, e)).isDirectory() && readdirSync(join(dir, e)).length === 0);
}

export async function assembleRootfs(pkgs: RootfsPackage[], o: AssembleOptions): Promise<void> {
  const log = o.log ?? (() => {});
  const st = lstatSync(o.rootfs, { throwIfNoEntry: false });
  if (st && (!st.isDirectory() || !isEmptyTarget(o.rootfs))) {
    throw new KilnError("FATAL", `root filesystem ${o.rootfs} ${st.isDirectory() ? "is not empty" : "exists and is not a directory"}`, {
      hint: "assembleRootfs builds into an absent or empty directory; remove the old tree first",
      details: { rootfs: o.rootfs },
    });
  }
  const created = !st;
  if (created) mkdirSync(o.rootfs, { recursive: true });
  try {
    await assemble(pkgs, o, log);
  } catch (err) {
    // nothing half-built stays: the whole tree, or (a directory we were given) its contents
    if (created) rmSync(o.rootfs, { recursive: true, force: true });
    else for (const e of readdirSync(o.rootfs)) if (e !== "lost+found") rmSync(join(o.rootfs, e), { recursive: true, force: true });
    throw err;
  }
}

async function assemble(pkgs: RootfsPackage[], o: AssembleOptions, log: (line: string) => void): Promise<void> {
  const rootfs = realpathSync(o.rootfs);
  const sorted = [...pkgs].sort((a, b) => cmp(a.pkg.name, b.pkg.name) || cmp(a.pkg.arch, b.pkg.arch));
  const keys = new Set<string>();
  for (const p of sorted) {
    if (p.pkg.arch !== o.arch && p.pkg.arch !== "all") {
      throw pkgError(p.pkg.name, p.deb, `architecture ${p.pkg.arch} is neither the native ${o.arch} nor all (dpkg would refuse it)`);
    }
    const key = `${p.pkg.name}:${p.pkg.arch}`;
    if (keys.has(key)) throw pkgError(p.pkg.name, p.deb, "is listed twice");
    keys.add(key);
  }

  if (o.mergedUsr) {
    for (const dir of MERGED_USR_DIRS(o.arch)) {
      mkdirSync(join(rootfs, "usr", dir), { recursive: true, mode: 0o755 });
      symlinkSync(`usr/${dir}`, join(rootfs, dir));
    }
    log(`merged /usr: ${MERGED_USR_DIRS(o.arch).map((d) => `/${d} -> usr/${d}`).join(", ")}`);
  }

  // unpacked straight into the rootfs (as dpkg does): the extractor checks every path
  // against the tree and the other packages' files
  const owners = new Map<string, string>();
  const realDirs = new Set<string>();
  const unpacked: Unpacked[] = [];
  // every package is opened at once (read, control parsed, payload queued): the
  // payloads go back to back to one xz program per core, which decompress them while
  // this thread unpacks the earlier ones (a program's last output of one payload comes
  // out only once it decodes the next, so all must be queued, then its input ended)
  // decoded output is staged beside the rootfs (the same filesystem, which has the room)
  // each payload's memory is given back once unpacked, for the next (a new buffer per
  // payload made V8 collect the whole heap for the external memory, ~0.1 s a rootfs)
  const xz = new XzDecoders(undefined, dirname(rootfs), { ahead: 4 });
  const payloads = sorted.map(newPayload);
  const opening = sorted.map((p, i) => {
    const shared: SharedTree = { owners, pkg: p.pkg.name, realDirs };
    const promise = openArPackage(p.deb, p.pkg.name, {
      eager: true,
      // without the xz program, @kiln/package's decompress falls back to lzma-native
      decompressPayload: (data, ext) =>
        ext === "xz" ? xz.decode(data).catch((err: NodeJS.ErrnoException) => (err.code === "ENOENT" ? decompress(data, ext) : Promise.reject(err))) : decompress(data, ext),
      extractPayload: (data, dest, what) => extractDebPayload(data, dest, what, payloads[i], shared),
      releasePayload: (data) => xz.release(data),
    });
    promise.catch(() => undefined);
    return promise;
  });
  void Promise.allSettled(opening).then(() => xz.close());
  let ok = false;
  try {
    for (const [i, p] of sorted.entries()) {
      const payload = payloads[i];
      const opened = await opening[i];
      if (opened.name !== p.pkg.name || opened.version !== p.pkg.version || (p.pkg.arch && opened.arch !== p.pkg.arch)) {
        throw pkgError(p.pkg.name, p.deb, `is ${opened.name} ${opened.version} ${opened.arch}, but the package list says ${p.pkg.name} ${p.pkg.version} ${p.pkg.arch}`);
      }
      const control = parseStanzas(opened.control)[0] ?? [];
      const multiArch = fieldOf(control, "Multi-Arch") ?? "";
      log(`unpacking ${opened.name} (${opened.version})`);
      // dpkg computes md5sums only for a package that ships none
      payload.wantMd5 = opened.extra.md5sums === undefined;
      await opened.extract(rootfs);
      // conffiles go to <path>.dpkg-new, as `dpkg --unpack` leaves them; `dpkg --configure` moves them in place
      for (const c of opened.conffiles) {
        const rel = c.replace(/^\/+/, "");
        if (payload.type.get(rel) !== "file") throw pkgError(opened.name, p.deb, `conffile ${c} is not a regular file of the package`);
        const path = inRoot(rootfs, rel, opened);
        renameSync(path, `${path}.dpkg-new`);
      }
      unpacked.push({ opened, control, multiArch, payload });
    }
    ok = true;
  } finally {
    xz.close(!ok);
  }
  writeDatabase(rootfs, o.arch, unpacked);
  log(`dpkg database: ${unpacked.length} packages unpacked`);
}

/** The host path of `rel` (installed by the installer, so its parent is inside the rootfs) — checked again. */
function inRoot(rootfs: string, rel: string, opened: OpenedPackage): string {
  const parent = realpathSync(dirname(join(rootfs, rel)));
  if (parent !== rootfs && !parent.startsWith(`${rootfs}/`)) throw pkgError(opened.name, opened.file, `/${rel} resolves outside the root filesystem`);
  return join(parent, posix.basename(rel));
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function fieldOf(stanza: Stanza, name: string): string | undefined {
  const lower = name.toLowerCase();
  return stanza.find(([k]) => k.toLowerCase() === lower)?.[1];
}

// ---------------------------------------------------------------- dpkg's database

/**
 * The order dpkg writes a status stanza in (lib/dpkg/parse.c `fieldinfos`); fields
 * it does not know follow, in the package's order.
 */
const STATUS_ORDER = [
  "Package",
  "Essential",
  "Protected",
  "Status",
  "Priority",
  "Section",
  "Installed-Size",
  "Origin",
  "Maintainer",
  "Bugs",
  "Architecture",
  "Multi-Arch",
  "Source",
  "Version",
  "Config-Version",
  "Replaces",
  "Provides",
  "Depends",
  "Pre-Depends",
  "Recommends",
  "Suggests",
  "Breaks",
  "Conflicts",
  "Enhances",
  "Conffiles",
  "Description",
  "Triggers-Pending",
  "Triggers-Awaited",
];
/** Fields of a package's control that an installed package's status does not carry. */
const NOT_IN_STATUS = new Set(["status", "config-version", "conffiles", "triggers-pending", "triggers-awaited", "filename", "size", "md5sum", "msdos-filename", "revision", "package-revision"]);

function statusStanza(u: Unpacked): string {
  const known = new Map(STATUS_ORDER.map((k) => [k.toLowerCase(), k]));
  const byField = new Map<string, string>();
  const extra: [string, string][] = [];
  for (const [k, v] of u.control) {
    const lower = k.toLowerCase();
    if (NOT_IN_STATUS.has(lower)) continue;
    const canon = known.get(lower);
    if (!canon) extra.push([k, v]);
    else if (!byField.has(canon)) byField.set(canon, v);
  }
  // dpkg writes these booleans only when true, and Multi-Arch only when not "no"
  for (const b of ["Essential", "Protected"]) if (byField.get(b) !== "yes") byField.delete(b);
  if (byField.get("Multi-Arch") === "no") byField.delete("Multi-Arch");
  byField.set("Status", "install ok unpacked");
  // a fresh unpack: no old conffile to compare with, dpkg records "newconffile"
  if (u.opened.conffiles.length) byField.set("Conffiles", `\n${u.opened.conffiles.map((c) => ` ${c} newconffile`).join("\n")}`);
  const out: [string, string][] = [];
  for (const k of STATUS_ORDER) {
    const v = byField.get(k);
    if (v !== undefined) out.push([k, v]);
  }
  out.push(...extra);
  return out.map(([k, v]) => (v.startsWith("\n") ? `${k}:${v}\n` : `${k}: ${v}\n`)).join("");
}

/** `name`, or `name:arch` for Multi-Arch: same (dpkg's pkg_name(pkg, pnaw_same): info files and trigger interests). */
const dbName = (u: Unpacked) => (u.multiArch === "same" ? `${u.opened.name}:${u.opened.arch}` : u.opened.name);

function writeDatabase(rootfs: string, arch: string, unpacked: Unpacked[]): void {
  const what = `root filesystem ${rootfs}`;
  const admin = realDir(rootfs, ADMIN, what);
  const info = realDir(rootfs, `${ADMIN}/info`, what);
  realDir(rootfs, `${ADMIN}/updates`, what);
  const triggers = realDir(rootfs, `${ADMIN}/triggers`, what);
  const fileTriggers: string[] = [];
  const explicit = new Map<string, string[]>();
  for (const u of unpacked) {
    const base = join(info, dbName(u));
    const write = (suffix: string, content: string | Buffer, mode = 0o644) => writeFileSync(`${base}.${suffix}`, content, { mode });
    write("list", ["/.", ...u.payload.order.map((p) => `/${p}`)].map((l) => `${l}\n`).join(""));
    const md5sums =
      u.opened.extra.md5sums ??
      u.payload.order
        .filter((p) => u.payload.type.get(p) === "file")
        .map((p) => `${u.payload.md5.get(p)}  ${p}\n`)
        .join("");
    write("md5sums", md5sums);
    if (u.opened.conffiles.length) write("conffiles", u.opened.conffiles.map((c) => `${c}\n`).join(""));
    for (const s of MAINTAINER_SCRIPTS) {
      const body = u.opened.scripts[s];
      if (body !== undefined) write(s, body, 0o755);
    }
    for (const [member, content] of Object.entries(u.opened.extra)) {
      if (member === "md5sums" || member.includes("/")) continue;
      write(member, content, member === "config" ? 0o755 : 0o644);
    }
    // trigger interests, as dpkg registers them on unpack (triggers/File and triggers/<name>)
    for (const line of (u.opened.extra.triggers?.toString("utf8") ?? "").split("\n")) {
      const m = /^\s*interest(-await|-noawait)?\s+(\S+)/.exec(line);
      if (!m) continue;
      const who = `${dbName(u)}${m[1] === "-noawait" ? "/noawait" : ""}`;
      if (m[2].startsWith("/")) fileTriggers.push(`${m[2]} ${who}\n`);
      else if (!m[2].includes("/") && m[2] !== "." && m[2] !== "..") explicit.set(m[2], [...(explicit.get(m[2]) ?? []), `${who}\n`]);
    }
  }
  const sorted = [...unpacked].sort((a, b) => cmp(a.opened.name, b.opened.name) || cmp(a.opened.arch, b.opened.arch));
  writeFileSync(join(admin, "status"), sorted.map(statusStanza).join("\n"));
  writeFileSync(join(admin, "arch"), `${arch}\n`);
  for (const f of ["available", "diversions", "statoverride"]) writeFileSync(join(admin, f), "");
  writeFileSync(join(info, "format"), "1\n");
  writeFileSync(join(triggers, "Unincorp"), "");
  if (fileTriggers.length) writeFileSync(join(triggers, "File"), fileTriggers.join(""));
  for (const [name, lines] of explicit) writeFileSync(join(triggers, name), lines.join(""));
}

// ---------------------------------------------------------------- configuring

/** Device nodes maintainer scripts expect (debootstrap's setup_devices_simple, minus ptmx). */
const DEVICES = ["null", "zero", "full", "random", "urandom", "tty"];

/** Mount points of /proc/self/mountinfo (field 5, octal escapes undone). */
function mountPoints(): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => (l.split(" ")[4] ?? "").replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(Number.parseInt(o, 8))));
}

const under = (root: string, p: string) => p.startsWith(`${root}/`);

interface Run {
  code: number;
  tail: string[];
}

/** Run a command, each output line to `log`, keeping the last lines for an error. */
function run(cmd: string, args: string[], env: Record<string, string>, log: (line: string) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    const tail: string[] = [];
    const take = (stream: NodeJS.ReadableStream) => {
      let rest = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => {
        const lines = (rest + chunk).split("\n");
        rest = lines.pop() ?? "";
        for (const l of lines) line(l);
      });
      stream.on("end", () => rest && line(rest));
    };
    const line = (l: string) => {
      log(l);
      tail.push(l);
      if (tail.length > 25) tail.shift();
    };
    take(child.stdout);
    take(child.stderr);
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), tail }));
  });
}

const simple = async (cmd: string, args: string[]) => {
  const r = await run(cmd, args, { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" }, () => {});
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.tail.join(" ") || `exit ${r.code}`}`);
};

/** A real (non-symlink) path inside the root whose final component may be created. */
function safeTarget(root: string, rel: string): string {
  const parent = realpathSync(join(root, dirname(rel)));
  if (parent !== root && !under(root, parent)) throw new KilnError("FATAL", `${join(root, rel)}: its directory resolves outside the root filesystem (${parent})`);
  const path = join(parent, posix.basename(rel));
  if (lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink()) throw new KilnError("FATAL", `${join(root, rel)} is a symlink; kiln does not mount or write through it`);
  return path;
}

interface Pending {
  name: string;
  /** `name` or `name:arch` (Multi-Arch: same), as the info files are named. */
  db: string;
  arch: string;
  deps: string[][];
  provides: string[];
}

/** Unpacked, never configured packages of the status file, in dependency order (Pre-Depends, Depends; cycles broken by name). */
function pendingPackages(status: string): Pending[] {
  const all: Pending[] = [];
  for (const s of parseStanzas(status)) {
    const state = (fieldOf(s, "Status") ?? "").split(/\s+/);
    if (state[2] !== "unpacked" || fieldOf(s, "Config-Version")) continue;
    const name = fieldOf(s, "Package") ?? "";
    const arch = fieldOf(s, "Architecture") ?? "";
    const rel = (f: string) =>
      (fieldOf(s, f) ?? "")
        .split(",")
        .map((alt) => alt.split("|").map((a) => a.trim().split(/[\s(:]/)[0]).filter(Boolean))
        .filter((a) => a.length);
    all.push({
      name,
      arch,
      db: fieldOf(s, "Multi-Arch") === "same" ? `${name}:${arch}` : name,
      deps: [...rel("Pre-Depends"), ...rel("Depends")],
      provides: rel("Provides").flat(),
    });
  }
  all.sort((a, b) => cmp(a.name, b.name));
  const by = new Map<string, Pending>();
  for (const p of all) by.set(p.name, p);
  for (const p of all) for (const v of p.provides) if (!by.has(v)) by.set(v, p);
  const out: Pending[] = [];
  const state = new Map<Pending, "visiting" | "done">();
  const visit = (p: Pending) => {
    if (state.has(p)) return;
    state.set(p, "visiting");
    for (const alts of p.deps) {
      const dep = alts.map((a) => by.get(a)).find(Boolean);
      if (dep && dep !== p) visit(dep);
    }
    state.set(p, "done");
    out.push(p);
  };
  for (const p of all) visit(p);
  return out;
}

/**
 * Configure an assembled rootfs as debootstrap's second stage would, in a chroot:
 * `/usr/sbin/policy-rc.d` (exit 101) so no service starts, /proc mounted, the basic
 * device nodes bind-mounted from the host, then each unpacked package's
 * `preinst install` (dpkg runs it before unpacking, which assembleRootfs did without
 * dpkg; base-passwd's creates /etc/passwd and /etc/group, which later scripts need) in
 * dependency order, then `dpkg --configure -a`. Whatever happens, policy-rc.d is
 * removed and everything mounted is unmounted.
 */
export async function configureRootfs(o: ConfigureOptions): Promise<void> {
  const log = o.log ?? (() => {});
  if (!isRoot()) {
    throw new KilnError("FATAL", `configuring ${o.rootfs} needs root: it chroots into it and mounts /proc`, {
      hint: "run as root, or leave the rootfs unpacked (`dpkg --configure -a` on the first boot configures it)",
    });
  }
  if (!existsSync(o.rootfs)) throw new KilnError("NOT_FOUND", `root filesystem ${o.rootfs} does not exist`);
  const root = realpathSync(o.rootfs);
  if (root === "/") throw new KilnError("FATAL", "refusing to configure / as a root filesystem");
  const statusFile = join(root, ADMIN, "status");
  if (!existsSync(statusFile)) throw new KilnError("FATAL", `${o.rootfs} has no dpkg database (${ADMIN}/status): not an assembled root filesystem`);
  // the chroot needs a shell for the maintainer scripts, and dpkg
  for (const prog of ["bin/sh", "usr/bin/dpkg"]) {
    if (!resolvesInRoot(root, prog)) {
      throw new KilnError("FATAL", `${o.rootfs} has no /${prog}: cannot run dpkg --configure in it`, {
        hint: "the package set must include the Essential packages (dash or bash for /bin/sh, dpkg)",
      });
    }
  }

  const env: Record<string, string> = {
    DEBIAN_FRONTEND: "noninteractive",
    DEBCONF_NONINTERACTIVE_SEEN: "true",
    LC_ALL: "C.UTF-8",
    LANGUAGE: "C",
    PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: "/root",
    ...o.env,
  };
  const before = new Set(mountPoints().filter((m) => under(root, m)));
  const mounted: string[] = [];
  const placeholders: string[] = [];
  let policy: string | undefined;
  let policySaved: string | undefined;
  let failure: unknown;
  try {
    policy = safeTarget(root, "usr/sbin/policy-rc.d");
    if (existsSync(policy)) {
      policySaved = `${policy}.kiln-saved`;
      renameSync(policy, policySaved);
    }
    writeFileSync(policy, "#!/bin/sh\n# written by kiln while configuring packages: start no service\nexit 101\n", { mode: 0o755 });
    chmodSync(policy, 0o755);

    const proc = safeTarget(root, "proc");
    if (!existsSync(proc)) mkdirSync(proc, { mode: 0o555 });
    await simple("mount", ["-t", "proc", "proc", proc]);
    mounted.push(proc);
    const dev = safeTarget(root, "dev");
    if (!existsSync(dev)) mkdirSync(dev, { mode: 0o755 });
    for (const d of DEVICES) {
      const node = safeTarget(root, `dev/${d}`);
      if (existsSync(node)) continue; // a node the tree has already
      writeFileSync(node, "", { mode: 0o666 });
      placeholders.push(node);
      await simple("mount", ["--bind", `/dev/${d}`, node]);
      mounted.push(node);
    }

    const pending = pendingPackages(readFileSync(statusFile, "utf8"));
    const dpkgVersion = /^Package: dpkg\n(?:.+\n)*?Version: (.+)$/m.exec(readFileSync(statusFile, "utf8"))?.[1] ?? "";
    for (const p of pending) {
      const script = `/${ADMIN}/info/${p.db}.preinst`;
      if (!existsSync(join(root, script))) continue;
      log(`running ${p.name} preinst install`);
      const r = await run(
        "chroot",
        [root, script, "install"],
        {
          ...env,
          DPKG_MAINTSCRIPT_NAME: "preinst",
          DPKG_MAINTSCRIPT_PACKAGE: p.name,
          DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT: "1",
          DPKG_MAINTSCRIPT_ARCH: p.arch,
          DPKG_MAINTSCRIPT_DEBUG: "0",
          DPKG_RUNNING_VERSION: dpkgVersion,
          DPKG_ADMINDIR: `/${ADMIN}`,
          DPKG_ROOT: "",
        },
        log,
      );
      if (r.code !== 0) {
        throw new KilnError("FATAL", `${p.name}'s preinst install failed (exit ${r.code}) in ${o.rootfs}:\n${r.tail.join("\n")}`, {
          details: { package: p.name, output: r.tail },
        });
      }
    }
    log("running dpkg --configure -a");
    const r = await run("chroot", [root, "dpkg", "--configure", "-a"], env, log);
    if (r.code !== 0) {
      throw new KilnError("FATAL", `dpkg --configure -a failed (exit ${r.code}) in ${o.rootfs}:\n${r.tail.join("\n")}`, {
        details: { output: r.tail },
        hint: "the lines above are the end of dpkg's output; the whole of it went to the task log",
      });
    }
  } catch (err) {
    failure = err;
  } finally {
    const cleanupErrors: string[] = [];
    if (policy) {
      try {
        rmSync(policy, { force: true });
        if (policySaved) renameSync(policySaved, policy);
      } catch (err) {
        cleanupErrors.push(`removing ${policy}: ${(err as Error).message}`);
      }
    }
    // what we mounted, then whatever else appeared under the root (a script's mounts), deepest first
    const left = () => mountPoints().filter((m) => under(root, m) && !before.has(m));
    for (const m of [...mounted].reverse()) await unmount(m);
    for (const m of left().sort().reverse()) await unmount(m);
    const still = left();
    if (still.length) cleanupErrors.push(`still mounted: ${still.join(", ")}`);
    for (const p of placeholders) {
      try {
        if (!still.includes(p)) rmSync(p, { force: true });
      } catch (err) {
        cleanupErrors.push(`removing ${p}: ${(err as Error).message}`);
      }
    }
    if (cleanupErrors.length) {
      const msg = `cleaning up after configuring ${o.rootfs} failed: ${cleanupErrors.join("; ")}`;
      // eslint-disable-next-line no-unsafe-finally
      if (!failure) throw new KilnError("FATAL", msg);
      log(msg);
    }
  }
  if (failure) throw failure;
  log(`configured ${o.rootfs}`);
}

/** Whether `rel` exists in `root` as a chroot would see it (absolute links taken relative to the root). */
function resolvesInRoot(root: string, rel: string, depth = 0): boolean {
  if (depth > 40) return false;
  let at = root;
  const parts = rel.split("/").filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (part === "..") {
      if (at !== root) at = dirname(at);
      continue;
    }
    const next = join(at, part);
    const st = lstatSync(next, { throwIfNoEntry: false });
    if (!st) return false;
    if (st.isSymbolicLink()) {
      const target = readlinkSafe(next);
      const restRel = posix.join(target.startsWith("/") ? target : posix.join(posix.relative(root, at) || ".", target), ...parts.slice(i + 1));
      return resolvesInRoot(root, restRel, depth + 1);
    }
    at = next;
  }
  return true;
}

function readlinkSafe(p: string): string {
  try {
    return readlinkSync(p, "utf8");
  } catch {
    return "";
  }
}

async function unmount(path: string): Promise<void> {
  if (!mountPoints().includes(path)) return;
  try {
    await simple("umount", [path]);
  } catch {
    try {
      await simple("umount", ["-l", path]);
    } catch {
      // reported by the caller's mountinfo check
    }
  }
}
