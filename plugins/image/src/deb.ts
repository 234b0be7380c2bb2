/**
 * IMAGE_PKGTYPE = "deb": .debs from DEPLOY_DIR_DEB, recorded in dpkg's database —
 * `var/lib/dpkg/status` (one stanza per package, `Status: install ok installed`,
 * conffiles with their md5sums) and `var/lib/dpkg/info/<pkg>.{list,md5sums,conffiles,
 * preinst,postinst,prerm,postrm}` — so `dpkg --root=ROOTFS -l|-L|-V` work on the result.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { KilnError } from "@kiln/core";
import { archDir, debianArch, debianVersion } from "@kiln/package";
import { MAINTAINER_SCRIPTS, type InstalledPackage, type OpenedPackage, type RootfsBackend, type RootfsContext } from "./backend.js";
import { findInFeed, openArPackage, packageError, readFeeds, type FeedEntry } from "./ar-format.js";
import { parseStanzas, stanzaText, type Stanza } from "./control.js";
import type { ResolvedPackage } from "./resolve.js";

/** The version a writer gave `p` in dpkg's (and opkg's) spelling. */
export function arVersion(p: ResolvedPackage): string {
  const v = p.data.vars;
  return debianVersion({ epoch: v.PKGE ?? "", version: v.PKGV ?? p.data.recipe.PV ?? "", revision: v.PKGR ?? p.data.recipe.PR ?? "" });
}

const feedsOf = new WeakMap<RootfsContext, FeedEntry[]>();

/** deb and ipk differ only in names: the file extension and how the architecture is spelled. */
export function arLocate(ext: string, arch: (packageArch: string) => string) {
  return (p: ResolvedPackage, rc: RootfsContext): string => {
    let feeds = feedsOf.get(rc);
    if (!feeds) feedsOf.set(rc, (feeds = readFeeds(rc.deployDir)));
    const version = arVersion(p);
    const packageArch = p.data.vars.PACKAGE_ARCH || "all";
    const fallback = join(rc.deployDir, archDir(packageArch), `${p.name}_${version.replace(/^\d+:/, "")}_${arch(packageArch)}.${ext}`);
    const file = findInFeed(feeds, p.name, version, fallback);
    if (!file) {
      throw new KilnError("NOT_FOUND", `package ${p.name} ${version} (needed by ${p.chain.slice(0, -1).join(" -> ")}): no .${ext} in ${rc.deployDir}`, {
        details: { package: p.name, version, deployDir: rc.deployDir, looked: fallback },
        hint: `do_package_write_${ext} of ${p.data.pn} must have run, and @kiln/sstate must be loaded (it installs packages into the deploy dir)`,
      });
    }
    return file;
  };
}

export async function openChecked(file: string, p: ResolvedPackage): Promise<OpenedPackage> {
  const opened = await openArPackage(file, p.name);
  const version = arVersion(p);
  if (opened.name !== p.name || opened.version !== version) {
    throw packageError(p.name, file, `is ${opened.name} ${opened.version}, but pkgdata says ${p.name} ${version}: the deploy dir is out of date`);
  }
  return opened;
}

const md5 = (path: string) => (existsSync(path) ? createHash("md5").update(readFileSync(path)).digest("hex") : "newconffile");

/** A dpkg status stanza: Package, Status, the control's other fields, Conffiles before Description. */
function statusStanza(ip: InstalledPackage, rootfs: string): Stanza {
  const control = parseStanzas(ip.opened.control)[0] ?? [];
  const out: Stanza = [];
  const conffiles: [string, string] | undefined = ip.opened.conffiles.length
    ? ["Conffiles", `\n${ip.opened.conffiles.map((c) => ` ${c} ${md5(join(rootfs, c))}`).join("\n")}`]
    : undefined;
  for (const [k, v] of control) {
    if (k === "Status" || k === "Conffiles") continue;
    if (k === "Description" && conffiles) out.push(conffiles);
    out.push([k, v]);
    if (k === "Package") out.push(["Status", "install ok installed"]);
  }
  if (conffiles && !out.includes(conffiles)) out.push(conffiles);
  return out;
}

export function writeDpkgDatabase(installed: InstalledPackage[], rootfs: string): void {
  const db = join(rootfs, "var/lib/dpkg");
  for (const dir of ["info", "updates", "triggers", "alternatives"]) mkdirSync(join(db, dir), { recursive: true });
  for (const ip of installed) {
    const name = ip.opened.name;
    const info = (suffix: string) => join(db, "info", `${name}.${suffix}`);
    writeFileSync(info("list"), ["/.", ...ip.files.map((f) => f.path)].map((l) => `${l}\n`).join(""));
    for (const [member, content] of Object.entries(ip.opened.extra)) writeFileSync(info(member), content);
    if (ip.opened.conffiles.length) writeFileSync(info("conffiles"), ip.opened.conffiles.map((c) => `${c}\n`).join(""));
    for (const s of MAINTAINER_SCRIPTS) {
      const body = ip.opened.scripts[s];
      if (body) writeFileSync(info(s), body, { mode: 0o755 });
    }
  }
  const sorted = [...installed].sort((a, b) => (a.opened.name < b.opened.name ? -1 : a.opened.name > b.opened.name ? 1 : 0));
  writeFileSync(join(db, "status"), sorted.map((ip) => stanzaText(statusStanza(ip, rootfs))).join("\n"));
  for (const f of ["available", "diversions", "statoverride"]) if (!existsSync(join(db, f))) writeFileSync(join(db, f), "");
}

export const debBackend = (plugin: string): RootfsBackend => ({
  type: "deb",
  plugin,
  unversionedProvideSatisfies: false,
  scriptArgs: { preinst: ["install"], postinst: ["configure"] },
  locate: arLocate("deb", debianArch),
  open: (file, p) => openChecked(file, p),
  async writeDatabase(installed, rc) {
    writeDpkgDatabase(installed, rc.rootfs);
  },
});
