/**
 * @kiln/package-deb: do_package_write_deb writes each package do_package kept as a
 * .deb (deb.ts) into DEPLOY_DIR_DEB/<arch>/ (through shared state), and keeps each
 * architecture's `Packages`/`Packages.gz` current for apt.
 */
import { join } from "node:path";
import type { DataStore, Kiln, KilnPlugin } from "@kiln/core";
import { debianArch, debianDepends, debianVersion, extendedDescription, registerPackageWriter, walkTree, writeFeedIndex, type Compression, type PackageToWrite } from "@kiln/package";
import { writeDeb } from "./deb.js";

export const PLUGIN_NAME = "kiln:package-deb";

/** The control fields of `p`, in the order Debian's tools write them. */
export function debControl(p: PackageToWrite, d: DataStore): [string, string][] {
  const fields: [string, string][] = [
    ["Package", p.name],
    ["Version", debianVersion(p.version)],
    ["Architecture", debianArch(p.arch)],
    ["Maintainer", p.maintainer],
  ];
  const rel: [string, keyof PackageToWrite["depends"]][] = [
    ["Depends", "rdepends"],
    ["Recommends", "rrecommends"],
    ["Suggests", "rsuggests"],
    ["Conflicts", "rconflicts"],
    ["Replaces", "rreplaces"],
  ];
  for (const [field, key] of rel) {
    const value = debianDepends(p.depends[key]);
    if (value) fields.push([field, value]);
  }
  // dpkg allows only `=` on a Provides
  const provides = new Map([...p.depends.rprovides].map(([n, cs]) => [n, cs.filter((c) => c.startsWith("= "))]));
  if (provides.size) fields.push(["Provides", debianDepends(provides)]);
  fields.push(["Section", p.section], ["Priority", p.priority]);
  if (p.homepage) fields.push(["Homepage", p.homepage]);
  const source = String(d.getVar("PN") ?? p.pn);
  if (source !== p.name) fields.push(["Source", source]);
  const long = extendedDescription(p);
  fields.push(["Description", `${p.summary}${long}`]);
  return fields;
}

/** debhelper's rule: every regular file under /etc is a conffile, besides CONFFILES. */
function conffiles(p: PackageToWrite): string[] {
  const etc = walkTree(p.root)
    .filter((e) => e.stat.isFile() && e.rel.startsWith("etc/"))
    .map((e) => `/${e.rel}`);
  return [...new Set([...p.conffiles, ...etc])].sort();
}

export async function writeDebFor(p: PackageToWrite, dir: string, d: DataStore): Promise<string> {
  const version = debianVersion(p.version).replace(/^\d+:/, "");
  const file = join(dir, `${p.name}_${version}_${debianArch(p.arch)}.deb`);
  const compression = String(d.getVar("PACKAGE_DEB_COMPRESSION") ?? "xz") as Compression;
  await writeDeb({ control: debControl(p, d), root: p.root, scripts: p.scripts, conffiles: conffiles(p), compression, mtime: p.mtime }, file);
  return file;
}

export const plugin: KilnPlugin<Kiln> = {
  name: PLUGIN_NAME,
  apply(kiln) {
    registerPackageWriter(kiln, { type: "deb", plugin: PLUGIN_NAME, classFile: new URL("../classes/package_deb.bbclass", import.meta.url), write: writeDebFor, index: (dir) => writeFeedIndex(dir, ".deb", "apt") });
  },
};
export default plugin;

export { writeDeb, type DebSpec } from "./deb.js";
