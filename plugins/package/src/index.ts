/**
 * @kiln/package: do_package (split ${D} into PACKAGES, shared-library dependencies,
 * pkgdata) and the pieces every package writer shares: the packages to write with
 * their metadata read back from pkgdata, the ar layout of deb and ipk, feed indexes,
 * per-format versions. Writer plugins call `registerPackageWriter`.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { definedIn, packTar, treeMembers, type DataStore, type Kiln, type KilnPlugin } from "@kiln/core";
import { controlText, fieldValue } from "./ar-package.js";
import { compress } from "./compress.js";
import { debianVersion } from "./versions.js";
import { doPackage } from "./package-task.js";
import { archDir, writePackagesTask, type PackageToWrite } from "./writer-task.js";

export const PLUGIN_NAME = "kiln:package";

/** The class whose do_package this plugin gives a body (a recipe's own do_package is left alone). */
const PACKAGE_CLASS = fileURLToPath(new URL("../classes/package.bbclass", import.meta.url));

/** taskPost stages: feed indexes are rebuilt after shared state has installed the packages. */
export const PACKAGE_STAGE = { INDEX: 100 } as const;

export interface PackageWriter {
  /** The format's name in task and variable names: `deb` → do_package_write_deb, DEPLOY_DIR_DEB. */
  type: string;
  /** The tap name (the writer plugin's PLUGIN_NAME). */
  plugin: string;
  /** Write one package into `dir` (its architecture's directory); returns the file written. */
  write(p: PackageToWrite, dir: string, d: DataStore): Promise<string>;
  /**
   * The class that declares the task (`new URL("../classes/package_x.bbclass", import.meta.url)`):
   * the body is supplied only while the task is that class's — a recipe or layer
   * defining its own do_package_write_<type> keeps it.
   */
  classFile: string | URL;
  /** The feed directory of an architecture (default: PACKAGE_ARCH with `-` as `_`). */
  dirName?(arch: string): string;
  /** Rebuild the feed index of one architecture directory of DEPLOY_DIR_<TYPE>. */
  index?(dir: string): Promise<void>;
}

/** Give `do_package_write_<type>` its body and keep DEPLOY_DIR_<TYPE>'s indexes current. */
export function registerPackageWriter(kiln: Kiln, w: PackageWriter): void {
  const task = `do_package_write_${w.type}`;
  const classFile = typeof w.classFile === "string" ? w.classFile : fileURLToPath(w.classFile);
  kiln.hooks.taskFunction.for(task).tapPromise(w.plugin, async (_t, d, ctx) => {
    if (!definedIn(d, task, classFile)) return undefined;
    await writePackagesTask(d, ctx, w.type, (p, dir) => w.write(p, dir, d), w.dirName);
    return true;
  });
  const index = w.index;
  if (!index) return;
  kiln.hooks.taskPost.tapPromise({ name: w.plugin, stage: PACKAGE_STAGE.INDEX }, async (t, d, result) => {
    if (!result.ok || (t.task !== task && t.task !== `${task}_setscene`) || !definedIn(d, task, classFile)) return;
    const deploy = String(d.getVar(`DEPLOY_DIR_${w.type.toUpperCase()}`) ?? "");
    if (!deploy || !existsSync(deploy)) return;
    for (const arch of readdirSync(deploy).sort()) {
      if (statSync(join(deploy, arch)).isDirectory()) await index(join(deploy, arch));
    }
  });
}

/**
 * What a writer plugin that cannot import @kiln/package (a plugin file inside a layer)
 * reaches through `kiln.plugins.get("kiln:package").api`.
 */
export const packageApi = { registerPackageWriter, packTar, treeMembers, compress, archDir, debianVersion, fieldValue, controlText };

export const plugin: KilnPlugin<Kiln> & { api: typeof packageApi } = {
  name: PLUGIN_NAME,
  api: packageApi,
  apply(kiln) {
    kiln.hooks.taskFunction.for("do_package").tapPromise(PLUGIN_NAME, async (_t, d, ctx) => {
      if (!definedIn(d, "do_package", PACKAGE_CLASS)) return undefined;
      await doPackage(d, ctx);
      return true;
    });
  },
};
export default plugin;

export { doPackage, packageVar } from "./package-task.js";
export { packagesToWrite, writePackagesTask, extendedDescription, deployWorkDir, archDir, type PackageToWrite } from "./writer-task.js";
export { writeArPackage, fieldValue, controlText, scriptText, MAINTAINER_SCRIPTS, type ArPackageSpec, type MaintainerScript } from "./ar-package.js";
export { compress, compressorCommand, compressToFile, decompress, DEFAULT_LEVEL, type Compression, type CompressOptions } from "./compress.js";
export { walkTree, fileChunks, WHOLE_FILE, type WalkEntry } from "./tree.js";
export { writeFeedIndex, readControl, type IndexFlavour } from "./feed-index.js";
export { debianVersion, debianArch, debianDepends, type PackageVersion, type DependencyList } from "./versions.js";
export { readPackageData, runtimeProviders, sharedLibraryProviders, parsePackageData, PACKAGE_VARS, type PackageData, type PackageVar } from "./pkgdata.js";
export { readElfDynamic, type ElfDynamic } from "./elf.js";
export { splitTree, listTree, globRegExp } from "./split.js";
export { XzDecoders, xzUncompressedSize } from "./xz-decoders.js";
