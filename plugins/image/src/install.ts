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
   * Where the directory `rel` of the rootfs really is, found as a chroot finds it: one
   * component at a time, links the rootfs holds followed (absolute targets from the
   * rootfs's own root, as another package's `/var/run -> /run` means), `..` taken from
   * where the path really is, and `..` at the root staying there.
   */
  const dirs = new Map<string, string>([["", realRoot]]);
  const resolveDir = (rel: string, member: string): string => {
    const known = dirs.get(rel);
    if (known !== undefined) return known;
    const at: string[] = [];
    // reversed: the next component is popped off the end
    const queue = rel.split("/").filter((p) => p && p !== ".").reverse();
    let hops = 0;
    while (queue.length) {
      const part = queue.pop() as string;
      if (part === "..") {
        at.pop();
        continue;
      }
      const path = join(realRoot, ...at, part);
      const st = lstatSync(path, { throwIfNoEntry: false });
      if (st?.isSymbolicLink()) {
        if (++hops > 40) throw fail(member, `goes through more than 40 links at /${[...at, part].join("/")}`);
        const link = readlinkSync(path);
        if (link.startsWith("/")) at.length = 0;
        for (const p of link.split("/").reverse()) if (p && p !== ".") queue.push(p);
        continue;
      }
      if (!st) throw fail(member, `would be installed below /${[...at, part].join("/")}, which does not exist`);
      if (!st.isDirectory()) throw fail(member, `would be installed below /${[...at, part].join("/")}, which is not a directory`);
      at.push(part);
    }
    const real = join(realRoot, ...at);
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
  // directories this package created get its modes and mtimes last, deepest first: their
  // contents changed the mtimes, and a read-only mode (0555) would have kept them out
  for (const [r, at] of created.reverse()) {
    chmodSync(at, members.get(r)?.mode ?? 0o755);
    const mtime = members.get(r)?.mtime;
    if (mtime !== undefined) utimesSync(at, mtime, mtime);
  }
  rmSync(staging, { recursive: true, force: true });
  return files;
}

