/**
 * do_rootfs of debian-rootfs.bbclass: the recipe's resolved set (fetched by the
 * do_fetch tasks it depends on) unpacked into IMAGE_ROOTFS with dpkg's database,
 * configured inside it when DEBIAN_CONFIGURE = "1", the manifest @kiln/image's
 * do_image copies, and the local apt repository of the set (DEBIAN_LOCAL_REPO).
 */
import { existsSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { KilnError, type DataStore, type Kiln, type TaskContext } from "@kiln/core";
import type { DebianState } from "./index.js";
import { writeLocalRepo } from "./local-repo.js";
import { assembleRootfs, configureRootfs } from "./rootfs.js";

const str = (d: DataStore, name: string) => String(d.getVar(name) ?? "").trim();

export async function doRootfs(_kiln: Kiln, d: DataStore, ctx: TaskContext, state: DebianState): Promise<void> {
  const file = str(d, "FILE");
  const entry = state.rootfs.get(file);
  if (!entry?.set) throw entry?.error ?? new KilnError("TASK_ERROR", `${str(d, "PN")}: no resolved Debian package set for ${file}`);
  const { suite } = state;
  const dl = join(str(d, "DL_DIR"), "debian");
  const packages = entry.set.packages.map((pkg) => ({ pkg, deb: join(dl, pkg.filename) }));
  const missing = packages.filter((p) => !existsSync(p.deb));
  if (missing.length) throw new KilnError("TASK_ERROR", `${str(d, "PN")}: not fetched: ${missing.map((p) => p.deb).join(", ")}`);

  const rootfs = str(d, "IMAGE_ROOTFS");
  const manifest = join(str(d, "WORKDIR"), "rootfs.manifest");
  rmSync(manifest, { force: true });
  // The previous tree is moved aside and deleted once the new one is built: ext4 looks
  // twice at inodes freed in the last minute before reusing them, and creating the new
  // tree right after deleting the old one took 3-5x longer.
  const old = `${rootfs}.old.${process.pid}`;
  if (existsSync(rootfs)) renameSync(rootfs, old);
  try {
    ctx.log(`${packages.length} packages into ${rootfs}`);
    for (const w of entry.set.warnings) ctx.warn(w);
    await assembleRootfs(packages, { rootfs, arch: suite.cfg.arch, mergedUsr: str(d, "DEBIAN_MERGED_USR") !== "0", log: (l) => ctx.log(l) });
    if (str(d, "DEBIAN_CONFIGURE") === "1") await configureRootfs({ rootfs, log: (l) => ctx.log(l) });
  } finally {
    // this one, and any an interrupted build left
    for (const e of readdirSync(dirname(rootfs))) if (e.startsWith(`${basename(rootfs)}.old.`)) rmSync(join(dirname(rootfs), e), { recursive: true, force: true });
  }

  const repo = str(d, "DEBIAN_LOCAL_REPO");
  if (repo) {
    writeLocalRepo(repo, dl, suite);
    ctx.log(`local apt repository: ${repo} (suite ${suite.cfg.suite})`);
  }
  writeFileSync(manifest, packages.map(({ pkg }) => `${pkg.name} ${pkg.arch} ${pkg.version}\n`).join(""));
}
