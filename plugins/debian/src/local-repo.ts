/**
 * The local apt repository (DEBIAN_LOCAL_REPO): the suite as this build saw it —
 * the upstream InRelease, still signed, and the Packages indexes it lists (the
 * verified copies kept in DL_DIR) under `dists/<suite>/`, and `pool/`, a link to
 * DL_DIR's copy of the archive's pool (every .deb fetched, at its archive path). A
 * rootfs's apt can use it with the archive's keyring (`deb [signed-by=KEYRING]
 * file:REPO SUITE COMPONENTS`); kiln can build from it offline (DEBIAN_MIRROR =
 * "file://REPO", BB_NO_NETWORK = "1"), verifying it as it verified the mirror. The
 * indexes list the whole suite; the pool holds what was fetched.
 */
import { copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Suite } from "./suite.js";

/** `link` -> `target`, replaced through a temp name when it points elsewhere. */
function ensureLink(link: string, target: string): void {
  if (existsSync(link) && lstatSync(link).isSymbolicLink() && readlinkSync(link) === target) return;
  if (existsSync(link) && !lstatSync(link).isSymbolicLink()) throw new Error(`${link} exists and is not a link: remove it`);
  const tmp = `${link}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  symlinkSync(target, tmp);
  renameSync(tmp, link);
}

/**
 * `to` as a hard link to `from` (a copy across filesystems), through a temp name: a
 * reader never sees half a file. Already that link: nothing to do (a rootfs build
 * used to copy the suite's ~10 MB of indexes every time).
 */
function linkAtomic(from: string, to: string): void {
  const src = statSync(from);
  const dst = statSync(to, { throwIfNoEntry: false });
  if (dst && dst.ino === src.ino && dst.dev === src.dev) return;
  mkdirSync(dirname(to), { recursive: true });
  const tmp = `${to}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  try {
    linkSync(from, tmp);
  } catch {
    // another filesystem, or one without hard links
    copyFileSync(from, tmp);
  }
  renameSync(tmp, to);
}

export function writeLocalRepo(repo: string, dlDebian: string, suite: Suite): void {
  mkdirSync(join(dlDebian, "pool"), { recursive: true });
  mkdirSync(repo, { recursive: true });
  ensureLink(join(repo, "pool"), join(dlDebian, "pool"));
  const dists = join(repo, "dists", suite.cfg.suite);
  // indexes first, InRelease last: it is what makes the new indexes the ones to read
  for (const f of suite.files) linkAtomic(f.file, join(dists, f.path));
  linkAtomic(suite.release.path, join(dists, "InRelease"));
}
