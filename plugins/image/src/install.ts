/**
 * Installing one package into the root filesystem: its payload is unpacked by the
 * format adapter (core's safe extractor) into an empty staging directory, then moved
 * into the rootfs entry by entry. The move is where packages meet, so it checks what
 * the extractor cannot see from one archive alone: a path must not reach outside the
 * rootfs through a link another package installed, a file must not replace a
 * directory (or the reverse), and two packages must not ship the same file.
 */
import { chmodSync, existsSync, lstatSync, lutimesSync, mkdirSync, readdirSync, realpathSync, renameSync, rmSync, statSync, utimesSync } from "node:fs";
import { dirname, join } from "node:path";
import type { InstalledFile, OpenedPackage } from "./backend.js";
import { packageError } from "./ar-format.js";

const inside = (root: string, path: string) => path === root || path.startsWith(`${root}/`);

/** Unpack `opened` and move it into `rootfs`; `owners` (rootfs path → package) is shared by all packages. */
export async function installPackage(opened: OpenedPackage, rootfs: string, staging: string, owners: Map<string, string>): Promise<InstalledFile[]> {
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  await opened.extract(staging);
  const members = await opened.members();
  const realRoot = realpathSync(rootfs);
  const files: InstalledFile[] = [];
  const created: string[] = [];
  const fail = (rel: string, why: string) => packageError(opened.name, opened.file, `member './${rel}' ${why}`);

  const walk = (rel: string) => {
    for (const name of readdirSync(join(staging, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const from = join(staging, r);
      const target = join(rootfs, r);
      // the parent exists now (created or checked before its children); where it really is decides
      const parent = realpathSync(dirname(target));
      if (!inside(realRoot, parent)) throw fail(r, `would be installed through a link pointing outside the root filesystem (${parent})`);
      const st = lstatSync(from);
      const existing = lstatSync(target, { throwIfNoEntry: false });
      if (st.isDirectory()) {
        if (existing) {
          const dirThere = existing.isDirectory() || (existing.isSymbolicLink() && existsSync(target) && statSync(target).isDirectory());
          if (!dirThere) throw fail(r, `is a directory, but ${owners.get(`/${r}`) ?? "the rootfs"} has a file there`);
          if (existing.isSymbolicLink() && !inside(realRoot, realpathSync(target))) throw fail(r, "is a directory reached through a link pointing outside the root filesystem");
        } else {
          mkdirSync(target);
          chmodSync(target, members.get(r)?.mode ?? 0o755);
          created.push(r);
        }
        files.push({ path: `/${r}`, type: "directory" });
        walk(r);
        continue;
      }
      if (existing?.isDirectory()) throw fail(r, `is a ${st.isSymbolicLink() ? "link" : "file"}, but the rootfs has a directory there`);
      const owner = owners.get(`/${r}`);
      if (owner && owner !== opened.name) throw fail(r, `would overwrite /${r}, which is also in package ${owner}`);
      renameSync(from, target);
      const mtime = members.get(r)?.mtime;
      if (mtime !== undefined) lutimesSync(target, mtime, mtime);
      owners.set(`/${r}`, opened.name);
      files.push({ path: `/${r}`, type: st.isSymbolicLink() ? "symlink" : "file" });
    }
  };
  walk("");
  // directories this package created get its mtimes last (their contents changed them), deepest first
  for (const r of created.reverse()) {
    const mtime = members.get(r)?.mtime;
    if (mtime !== undefined) utimesSync(join(rootfs, r), mtime, mtime);
  }
  rmSync(staging, { recursive: true, force: true });
  return files;
}

