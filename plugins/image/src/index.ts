/**
 * @kiln/image: `inherit image` builds a root filesystem from packages and writes it
 * as images (DESIGN §8). The class declares the tasks and their dependencies; this
 * plugin supplies the bodies of do_rootfs, do_image and do_image_complete, one
 * rootfs adapter per package format (deb, ipk, rpm; `registerRootfsBackend` adds
 * more) and the IMAGE_FSTYPES writers (`registerImageType` adds more).
 */
import { existsSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { DataStore, Kiln, KilnPlugin, TaskContext } from "@kiln/core";
import { registerRootfsBackend } from "./backend.js";
import { debBackend } from "./deb.js";
import { BUILTIN_IMAGE_TYPES, registerImageType } from "./image-types.js";
import { ipkBackend } from "./ipk.js";
import { rpmBackend } from "./rpm.js";
import { doImage, doImageComplete, doRootfs } from "./tasks.js";

export const PLUGIN_NAME = "kiln:image";

/** The class whose task stubs this plugin fills (shipped beside dist/, on BBPATH as a plugin layer). */
const IMAGE_CLASS = fileURLToPath(new URL("../classes/image.bbclass", import.meta.url));
const realIfThere = (p: string) => (existsSync(p) ? realpathSync(p) : p);
const OUR_CLASS = realIfThere(IMAGE_CLASS);

function fromOurClass(d: DataStore, task: string): boolean {
  const file = String(d.getVarFlag(task, "filename") ?? "");
  return file !== "" && realIfThere(file) === OUR_CLASS;
}

const TASKS: [string, (kiln: Kiln, d: DataStore, ctx: TaskContext) => Promise<void>][] = [
  ["do_rootfs", doRootfs],
  ["do_image", doImage],
  ["do_image_complete", doImageComplete],
];

export const plugin: KilnPlugin<Kiln> = {
  name: PLUGIN_NAME,
  apply(kiln) {
    for (const b of [debBackend, ipkBackend, rpmBackend]) registerRootfsBackend(kiln, b(PLUGIN_NAME));
    for (const t of BUILTIN_IMAGE_TYPES) registerImageType(kiln, t);
    for (const [task, body] of TASKS) {
      kiln.hooks.taskFunction.for(task).tapPromise(PLUGIN_NAME, async (_t, d, ctx) => {
        // only the stubs of this plugin's image.bbclass: a recipe or layer with a
        // do_rootfs of its own (another image class, a test fixture) keeps it
        if (!fromOurClass(d, task)) return undefined;
        await body(kiln, d, ctx);
        return true;
      });
    }
  },
};
export default plugin;

export { registerRootfsBackend, rootfsBackend, MAINTAINER_SCRIPTS, type RootfsBackend, type RootfsContext, type OpenedPackage, type InstalledPackage, type InstalledFile, type MemberInfo } from "./backend.js";
export { BUILTIN_IMAGE_TYPES, imageTarArgs, registerImageType, type ImageType } from "./image-types.js";
export { resolvePackages, satisfies, packageVersion, type ResolvedPackage, type ResolveOptions } from "./resolve.js";
export { parseStanzas, stanzaText, type Stanza } from "./control.js";
export { installPackage } from "./install.js";
export { openArPackage, readFeeds, type OpenArOptions } from "./ar-format.js";
export { debBackend, writeDpkgDatabase } from "./deb.js";
export { ipkBackend } from "./ipk.js";
export { rpmBackend, readRpm } from "./rpm.js";
