/**
 * `kiln debian show TARGET` (the resolved package set of a debian-rootfs recipe:
 * version, architecture and why each package is in it) and `kiln debian lock TARGET
 * [--update]` (write debian.lock with that set). The work is @kiln/debian's, reached
 * through its plugin API: the plugin must be in KILN_PLUGINS.
 */
import { Kiln, UsageError } from "@kiln/core";
import { cliKilnOptions } from "./plugins.js";
import { EXIT } from "./errors.js";
import type { Output } from "./output.js";

export interface DebianContext {
  io: Output;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

interface DebianPackageLike {
  name: string;
  version: string;
  arch: string;
}
interface ResolvedSetLike {
  packages: DebianPackageLike[];
  why: Map<string, string>;
  warnings: string[];
}
interface DebianApi {
  rootfsSet(kiln: Kiln, pn: string): ResolvedSetLike;
  explainResolution(set: ResolvedSetLike): string;
  debianState(kiln: Kiln): { suite: { lockFile: string; lock?: unknown } };
  lockSets(kiln: Kiln, pns: string[]): { file: string; count: number };
}

async function parsed(ctx: DebianContext, update = false): Promise<{ kiln: Kiln; api: DebianApi }> {
  const kiln = new Kiln(cliKilnOptions(ctx));
  // --update: resolve from the suite's current versions, not the lock's
  if (update) kiln.configuration().d.setVar("DEBIAN_LOCK_IGNORE", "1");
  await kiln.parseAll();
  const api = (kiln.plugins.get("kiln:debian") as { api?: DebianApi } | undefined)?.api;
  if (!api) throw new UsageError("kiln debian needs the @kiln/debian plugin", { hint: 'add KILN_PLUGINS += "@kiln/debian" to conf/local.conf' });
  return { kiln, api };
}

export async function debianShow(ctx: DebianContext, target: string): Promise<number> {
  const { kiln, api } = await parsed(ctx);
  const set = api.rootfsSet(kiln, target);
  ctx.io.out(api.explainResolution(set));
  ctx.io.out(`${set.packages.length} packages\n`);
  return EXIT.OK;
}

export async function debianLock(ctx: DebianContext, targets: string[], o: { update?: boolean }): Promise<number> {
  if (!targets.length) throw new UsageError("kiln debian lock needs a TARGET (a recipe that inherits debian-rootfs)");
  const { kiln, api } = await parsed(ctx, o.update);
  const { suite } = api.debianState(kiln);
  if (suite.lock && !o.update) throw new UsageError(`${suite.lockFile} exists`, { hint: "use --update to resolve again from the suite's current versions" });
  const { file, count } = api.lockSets(kiln, targets);
  ctx.io.out(`wrote ${file}: ${count} packages\n`);
  return EXIT.OK;
}
