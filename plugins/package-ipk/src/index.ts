/**
 * @kiln/package-ipk: do_package_write_ipk writes each package do_package kept as an
 * .ipk — the ar layout .deb uses, with the control fields OpenEmbedded's opkg
 * packages carry — into DEPLOY_DIR_IPK/<arch>/ (through shared state), and keeps
 * each architecture's `Packages`/`Packages.gz` current for opkg.
 */
import { join } from "node:path";
import type { DataStore, Kiln, KilnPlugin } from "@kiln/core";
import {
  archDir,
  debianDepends,
  debianVersion,
  extendedDescription,
  registerPackageWriter,
  writeArPackage,
  writeFeedIndex,
  type Compression,
  type PackageToWrite,
} from "@kiln/package";

export const PLUGIN_NAME = "kiln:package-ipk";

/** The control fields of `p` in the order OpenEmbedded's package_ipk writes them. */
export function ipkControl(p: PackageToWrite): [string, string][] {
  const fields: [string, string][] = [
    ["Package", p.name],
    ["Version", debianVersion(p.version)],
    ["Description", `${p.summary}${extendedDescription(p)}`],
    ["Section", p.section],
    ["Priority", p.priority],
    ["Maintainer", p.maintainer],
    ["License", p.license],
    ["Architecture", archDir(p.arch)],
    ["OE", p.pn],
  ];
  if (p.homepage) fields.push(["Homepage", p.homepage]);
  const rel: [string, keyof PackageToWrite["depends"]][] = [
    ["Depends", "rdepends"],
    ["Recommends", "rrecommends"],
    ["Suggests", "rsuggests"],
    ["Provides", "rprovides"],
    ["Replaces", "rreplaces"],
    ["Conflicts", "rconflicts"],
  ];
  for (const [field, key] of rel) {
    const value = debianDepends(p.depends[key]);
    if (value) fields.push([field, value]);
  }
  fields.push(["Source", `${p.pn}_${p.version.version}-${p.version.revision}`]);
  return fields;
}

export async function writeIpkFor(p: PackageToWrite, dir: string, d: DataStore): Promise<string> {
  const version = debianVersion(p.version).replace(/^\d+:/, "");
  const file = join(dir, `${p.name}_${version}_${archDir(p.arch)}.ipk`);
  const compression = String(d.getVar("PACKAGE_IPK_COMPRESSION") ?? "xz") as Compression;
  await writeArPackage({ control: ipkControl(p), root: p.root, scripts: p.scripts, conffiles: p.conffiles, compression, mtime: p.mtime }, file);
  return file;
}

export const plugin: KilnPlugin<Kiln> = {
  name: PLUGIN_NAME,
  apply(kiln) {
    registerPackageWriter(kiln, { type: "ipk", plugin: PLUGIN_NAME, classFile: new URL("../classes/package_ipk.bbclass", import.meta.url), write: writeIpkFor, index: (dir) => writeFeedIndex(dir, ".ipk", "opkg") });
  },
};
export default plugin;
