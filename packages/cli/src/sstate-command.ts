/**
 * `kiln sstate list [TARGET...]` (the shared state objects a target's tasks have:
 * here, on a mirror, or missing) and `kiln sstate prune --older-than DAYS |
 * --keep-latest`. The work is @kiln/sstate's; it is loaded only for these commands.
 */
import { Kiln, UsageError } from "@kiln/core";
import { cliKilnOptions } from "./plugins.js";
import { EXIT } from "./errors.js";
import type { Output } from "./output.js";

export interface SstateContext {
  io: Output;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

const load = () => import("@kiln/sstate");

function kilnFor(ctx: SstateContext): Kiln {
  return new Kiln(cliKilnOptions(ctx));
}

export async function sstateList(ctx: SstateContext, targets: string[]): Promise<number> {
  const kiln = kilnFor(ctx);
  const graph = await kiln.taskGraph({ targets: targets.length ? targets : ["world"] });
  const { listObjects } = await load();
  const rows = await listObjects(graph, kiln.configuration().d);
  for (const r of rows) ctx.io.out(`${r.id.padEnd(40)} ${r.where.padEnd(7)} ${r.url ?? r.path}\n`);
  const count = (w: string) => rows.filter((r) => r.where === w).length;
  ctx.io.out(`${rows.length} shared state tasks: ${count("local")} local, ${count("mirror")} on a mirror, ${count("missing")} missing\n`);
  return EXIT.OK;
}

export async function sstatePrune(ctx: SstateContext, o: { olderThan?: string; keepLatest?: boolean }): Promise<number> {
  if (o.olderThan === undefined && !o.keepLatest) throw new UsageError("sstate prune needs --older-than DAYS or --keep-latest");
  const days = o.olderThan === undefined ? undefined : Number(o.olderThan);
  if (days !== undefined && !(days >= 0)) throw new UsageError(`--older-than takes a number of days, not '${o.olderThan}'`);
  const kiln = kilnFor(ctx);
  const sstateDir = String(kiln.configuration().d.getVar("SSTATE_DIR") ?? "");
  const { pruneObjects } = await load();
  const removed = pruneObjects(sstateDir, { olderThanDays: days, keepLatest: o.keepLatest });
  for (const p of removed) ctx.io.out(`removed ${p}\n`);
  ctx.io.out(`${removed.length} objects removed from ${sstateDir}\n`);
  return EXIT.OK;
}
