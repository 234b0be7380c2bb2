/** @kiln/fetch-file: "downloads" file:// URLs (local mirrors, PREMIRRORS on disk) by copying. */
import { copyFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Kiln, KilnPlugin } from "@kiln/core";

export const PLUGIN_NAME = "kiln:fetch-file";
export const schemes = ["file"] as const;

export const plugin: KilnPlugin<Kiln> = {
  name: PLUGIN_NAME,
  apply(kiln) {
    kiln.hooks.fetch.for("file").tapPromise(PLUGIN_NAME, async (url, dest) => {
      copyFileSync(fileURLToPath(url), dest);
      return true;
    });
  },
};

export default plugin;
