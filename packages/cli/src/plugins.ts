import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { KilnOptions } from "@kiln/core";

/**
 * Plugins every CLI build gets: the URL schemes core's fetcher needs, packaging
 * (splitting, the ipk/deb/rpm writers and their classes) and images; KILN_PLUGINS adds more.
 */
export const DEFAULT_PLUGINS = [
  "@kiln/fetch-file",
  "@kiln/fetch-http",
  "@kiln/mirrors",
  "@kiln/fetch-git",
  "@kiln/package",
  "@kiln/package-deb",
  "@kiln/package-ipk",
  "@kiln/package-rpm",
  "@kiln/image",
];

/** Options for a Kiln run by the CLI: plugin packages resolve from the CLI, which ships them beside kiln. */
export function cliKilnOptions(ctx: { cwd: string; env: NodeJS.ProcessEnv }, extra: Partial<KilnOptions> = {}): KilnOptions {
  return {
    cwd: ctx.cwd,
    env: ctx.env,
    importPlugin: (spec) => import(spec),
    defaultPlugins: DEFAULT_PLUGINS,
    pluginResolveFrom: [dirname(fileURLToPath(import.meta.url))],
    ...extra,
  };
}
