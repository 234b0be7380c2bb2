/**
 * Installing one package into the root filesystem: its payload is unpacked by the
 * format adapter (core's safe extractor) into an empty staging directory, then moved
 * into the rootfs entry by entry. The move is where packages meet, so it checks what
 * the extractor cannot see from one archive alone: paths are followed through the
 * links other packages installed as in a chroot (absolute targets from the rootfs's
 * root; one climbing above it is refused), a file must not replace a directory (or the
 * reverse), and two packages must not ship the same file (by where it really lands).
 */
import { chmodSync, lstatSync, lutimesSync, mkdirSync, readdirSync, readlinkSync, realpathSync, renameSync, rmSync, utimesSync } from "node:fs";
import { join } from "node:path";
import type { InstalledFile, OpenedPackage } from "./backend.js";
import { packageError } from "./ar-format.js";

/** Unpack `opened` and move it into `rootfs`; `owners` (real rootfs path → package) is shared by all packages. */
export async function installPackage(opened: OpenedPackage, rootfs: string, staging: string, owners: Map<string, string>): Promise<InstalledFile[]> {
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  await opened.extract(staging);
  const members = await opened.members();
  const realRoot = realpathSync(rootfs);
  const files: InstalledFile[] = [];
  /** Directories this package made: its name for each, and where it is. */
  const created: [string, string][] = [];
  const fail = (rel: string, why: string) => packageError(opened.name, opened.file, `member './${rel}' ${why}`);
  const relOf = (abs: string) => (abs === realRoot ? "" : abs.slice(realRoot.length + 1));
  /**
   * Where the directory `rel` of the rootfs really is, found as in a chroot: links the
   * rootfs holds are followed, absolute targets from the rootfs's own root (another
   * package's `/var/run -> /run`), and a target climbing above that root is refused.
   */
  const dirs = new Map<string, string>([["", realRoot]]);
  const resolveDir = (rel: string, member: string, hops = 0): string => {
    const known = dirs.get(rel);
    if (known !== undefined) return known;
    const slash = rel.lastIndexOf("/");
    const parent = resolveDir(slash < 0 ? "" : rel.slice(0, slash), member, hops);
    const at = join(parent, rel.slice(slash + 1));
    const st = lstatSync(at, { throwIfNoEntry: false });
    let real = at;
    if (st?.isSymbolicLink()) {
      const link = readlinkSync(at);
      if (hops > 40) throw fail(member, `goes through more than 40 links at /${rel}`);
      const parts = link.startsWith("/") ? [] : relOf(parent).split("/").filter(Boolean);
      for (const part of link.split("/")) {
        if (part === "" || part === ".") continue;
        if (part !== "..") parts.push(part);
        else if (parts.length) parts.pop();
        else throw fail(member, `would be installed through the link /${rel} -> ${link}, pointing outside the root filesystem`);
      }
      real = resolveDir(parts.join("/"), member, hops + 1);
    } else if (!st) {
      throw fail(member, `would be installed below /${rel}, which does not exist`);
    } else if (!st.isDirectory()) {
      throw fail(member, `would be installed below /${rel}, which is not a directory`);
    }
    dirs.set(rel, real);
    return real;
  };

  const walk = (rel: string) => {
    for (const name of readdirSync(join(staging, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const from = join(staging, r);
      // the parent exists now (created or checked before its children); where it really is decides
      const target = join(resolveDir(rel, r), name);
      const st = lstatSync(from);
      const existing = lstatSync(target, { throwIfNoEntry: false });
      if (st.isDirectory()) {
        if (existing?.isSymbolicLink()) resolveDir(r, r); // a link to a directory, followed as in a chroot
        else if (existing && !existing.isDirectory()) throw fail(r, `is a directory, but ${owners.get(`/${relOf(target)}`) ?? "the rootfs"} has a file there`);
        else if (!existing) {
          mkdirSync(target);
          chmodSync(target, members.get(r)?.mode ?? 0o755);
          created.push([r, target]);
        }
        files.push({ path: `/${r}`, type: "directory" });
        walk(r);
        continue;
      }
      if (existing?.isDirectory()) throw fail(r, `is a ${st.isSymbolicLink() ? "link" : "file"}, but the rootfs has a directory there`);
      // by where it really is: /bin/x and /usr/bin/x are one file when /bin -> usr/bin
      const key = `/${relOf(target)}`;
      const owner = owners.get(key);
      if (owner && owner !== opened.name) throw fail(r, `would overwrite ${key}, which is also in package ${owner}`);
      renameSync(from, target);
      const mtime = members.get(r)?.mtime;
      if (mtime !== undefined) lutimesSync(target, mtime, mtime);
      owners.set(key, opened.name);
      files.push({ path: `/${r}`, type: st.isSymbolicLink() ? "symlink" : "file" });
    }
  };
  walk("");
  // directories this package created get its mtimes last (their contents changed them), deepest first
  for (const [r, at] of created.reverse()) {
    const mtime = members.get(r)?.mtime;
    if (mtime !== undefined) utimesSync(at, mtime, mtime);
  }
  rmSync(staging, { recursive: true, force: true });
  return files;
}

