/**
 * The image tasks' bodies:
 * - do_rootfs: resolve IMAGE_INSTALL through pkgdata, install every package (the
 *   IMAGE_PKGTYPE adapter finds, opens and unpacks it) into IMAGE_ROOTFS in
 *   dependency order, run preinsts and postinsts offline (deferring those that ask
 *   for the target), record the format's package database, write the manifest;
 * - do_image: one file per IMAGE_FSTYPES type in IMGDEPLOYDIR, with the
 *   IMAGE_LINK_NAME links and the manifest beside them;
 * - do_image_complete: nothing to write — shared state installs IMGDEPLOYDIR into
 *   DEPLOY_DIR_IMAGE (as OpenEmbedded's), so a finished image appears there whole.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { KilnError, type DataStore, type Kiln, type TaskContext } from "@kiln/core";
import { rootfsBackend, rootfsBackendTypes, type InstalledPackage, type RootfsContext } from "./backend.js";
import { imageType, imageTypeNames, writeAtomically } from "./image-types.js";
import { installPackage } from "./install.js";
import { resolvePackages } from "./resolve.js";
import { runScript, saveDeferred } from "./scripts.js";

const str = (d: DataStore, name: string) => String(d.getVar(name) ?? "").trim();
const words = (v: string) => v.split(/\s+/).filter(Boolean);
/** Where do_rootfs leaves the manifest for do_image (which names it after IMAGE_NAME). */
const manifestFile = (d: DataStore) => join(str(d, "WORKDIR"), "rootfs.manifest");

function sourceDateEpoch(d: DataStore): number {
  return Number.parseInt(str(d, "SOURCE_DATE_EPOCH"), 10) || 0;
}

const tail = (text: string, lines = 20) => text.trimEnd().split("\n").slice(-lines).join("\n");

export async function doRootfs(kiln: Kiln, d: DataStore, ctx: TaskContext): Promise<void> {
  const type = str(d, "IMAGE_PKGTYPE");
  const backend = rootfsBackend(kiln, type);
  if (!backend) {
    throw new KilnError("USAGE_ERROR", `IMAGE_PKGTYPE = "${type}": no package format of that name can build a rootfs (known: ${rootfsBackendTypes(kiln).join(", ")})`, {
      hint: "IMAGE_PKGTYPE defaults to the first of PACKAGE_CLASSES (package_deb → deb)",
    });
  }
  const rootfs = str(d, "IMAGE_ROOTFS");
  const workdir = str(d, "WORKDIR");
  const staging = join(workdir, "rootfs-staging");
  const scratch = join(workdir, "rootfs-scripts");
  for (const dir of [rootfs, staging, scratch]) rmSync(dir, { recursive: true, force: true });
  mkdirSync(rootfs, { recursive: true });
  rmSync(manifestFile(d), { force: true });
  const rc: RootfsContext = { d, ctx, rootfs, deployDir: str(d, `DEPLOY_DIR_${type.toUpperCase()}`), epoch: sourceDateEpoch(d) };

  const order = resolvePackages(str(d, "IMAGE_INSTALL"), {
    pkgdataDir: str(d, "PKGDATA_DIR"),
    image: str(d, "PN"),
    recommends: str(d, "NO_RECOMMENDATIONS") !== "1",
    badRecommendations: new Set(words(str(d, "BAD_RECOMMENDATIONS"))),
    exclude: new Set(words(str(d, "PACKAGE_EXCLUDE"))),
    preferredProvider: (name) => str(d, `PREFERRED_RPROVIDER_${name}`) || undefined,
    unversionedProvideSatisfies: backend.unversionedProvideSatisfies,
    log: (line) => ctx.log(line),
  });
  ctx.log(`installing ${order.length} ${type} packages: ${order.map((p) => p.name).join(" ")}`);
  await backend.prepare?.(rc);

  const env: Record<string, string> = {
    PATH: str(d, "PATH") || process.env.PATH || "/usr/bin:/bin",
    LC_ALL: "C",
    ...(backend.scriptEnv?.(rootfs) ?? {}),
  };
  const script = (pkg: string, kind: "preinst" | "postinst", body: string) =>
    runScript(pkg, kind, body, { rootfs, scratch, env, args: backend.scriptArgs[kind], signal: ctx.signal });

  const owners = new Map<string, string>();
  const installed: InstalledPackage[] = [];
  for (const p of order) {
    const file = backend.locate(p, rc);
    const opened = await backend.open(file, p, rc);
    const pre = opened.scripts.preinst;
    if (pre) {
      const r = await script(opened.name, "preinst", pre);
      if (r.output) ctx.log(`${opened.name} preinst:\n${r.output}`);
      if (r.code !== 0) {
        throw new KilnError("FATAL", `package ${opened.name}: preinst failed at rootfs time (exit ${r.code})${r.output ? `:\n${tail(r.output)}` : ""}`, {
          hint: "a preinst runs with $D set to the rootfs; it cannot be deferred to the target",
        });
      }
    }
    const files = await installPackage(opened, rootfs, join(staging, opened.name), owners);
    ctx.log(`installed ${opened.name} ${opened.version} (${opened.arch}) from ${file}: ${files.length} paths`);
    installed.push({ resolved: p, opened, files, deferred: false });
  }

  const deferred: { name: string; body: string }[] = [];
  for (const ip of installed) {
    const body = ip.opened.scripts.postinst;
    if (!body) continue;
    const r = await script(ip.opened.name, "postinst", body);
    if (r.output) ctx.log(`${ip.opened.name} postinst:\n${r.output}`);
    if (r.code === 0) continue;
    ip.deferred = true;
    deferred.push({ name: ip.opened.name, body });
  }
  const saved = saveDeferred(rootfs, str(d, "sysconfdir") || "/etc", type, deferred);
  if (saved.length) {
    ctx.note(`${deferred.map((p) => p.name).join(", ")}: postinst deferred to first boot (${saved.map((f) => f.slice(rootfs.length)).join(", ")})`);
  }
  await backend.writeDatabase(installed, rc);

  const lines = installed.map((ip) => `${ip.opened.name} ${ip.opened.arch} ${ip.opened.version}\n`).sort();
  writeFileSync(manifestFile(d), lines.join(""));
  rmSync(staging, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
}

/** `name` → `target` in `dir`, replacing whatever link was there (made under a temp name, renamed). */
function link(dir: string, name: string, target: string): void {
  const tmp = join(dir, `.${name}.tmp.${process.pid}`);
  rmSync(tmp, { force: true });
  symlinkSync(target, tmp);
  renameSync(tmp, join(dir, name));
}

export async function doImage(kiln: Kiln, d: DataStore, ctx: TaskContext): Promise<void> {
  const rootfs = str(d, "IMAGE_ROOTFS");
  if (!existsSync(manifestFile(d))) throw new KilnError("TASK_ERROR", `${str(d, "PN")}: no rootfs in ${rootfs}: do_rootfs has not run`);
  const out = str(d, "IMGDEPLOYDIR");
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const name = str(d, "IMAGE_NAME");
  const linkName = str(d, "IMAGE_LINK_NAME");
  const types = [...new Set(words(str(d, "IMAGE_FSTYPES")))];
  const unknown = types.filter((t) => !imageType(kiln, t));
  if (unknown.length) {
    throw new KilnError("USAGE_ERROR", `IMAGE_FSTYPES: unknown image type${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} (known: ${imageTypeNames(kiln).join(", ")})`);
  }
  await Promise.all(
    types.map(async (t) => {
      const file = `${name}.rootfs.${t}`;
      await writeAtomically(join(out, file), (tmp) => (imageType(kiln, t) as NonNullable<ReturnType<typeof imageType>>).write(rootfs, tmp, d, ctx.signal));
      if (linkName && linkName !== name) link(out, `${linkName}.rootfs.${t}`, file);
      ctx.log(`wrote ${file}`);
    }),
  );
  await writeAtomically(join(out, `${name}.manifest`), async (tmp) => copyFileSync(manifestFile(d), tmp));
  if (linkName && linkName !== name) link(out, `${linkName}.manifest`, `${name}.manifest`);
}

export async function doImageComplete(_kiln: Kiln, d: DataStore, ctx: TaskContext): Promise<void> {
  const out = str(d, "IMGDEPLOYDIR");
  const files = existsSync(out) ? readdirSync(out).sort() : [];
  if (!files.length) throw new KilnError("TASK_ERROR", `${str(d, "PN")}: nothing in ${out}: do_image has not run`);
  ctx.log(`deploying into ${str(d, "DEPLOY_DIR_IMAGE")}: ${files.join(" ")}`);
  if (!existsSync(join(out, `${str(d, "IMAGE_NAME")}.manifest`))) ctx.warn(`${str(d, "PN")}: no manifest in ${out}`);
}
