/**
 * @kiln/sstate: shared state. For every task SSTATETASKS lists:
 * - before it runs (`taskPre`), what its previous version installed into the shared
 *   trees is removed (from its manifests);
 * - after it succeeds (`taskPost`), its `[sstate-inputdirs]` and `[sstate-plaindirs]`
 *   are archived into an sstate object named by its taskhash, and the inputdirs are
 *   installed into the `[sstate-outputdirs]` with manifests;
 * - its `do_x_setscene` task (a `taskFunction` body) restores the object instead:
 *   verify, unpack, install the same way;
 * - `checkHashes` reports which candidates have an object in SSTATE_DIR.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { DataStore, Kiln, KilnPlugin, TaskRef } from "@kiln/core";
import { installTree, removeInstalled } from "./manifest.js";
import { createObject, objectPath, sstateTaskOf, unpackObject, type SstateTask } from "./objects.js";

export const PLUGIN_NAME = "kiln:sstate";
const SETSCENE = "_setscene";

function install(t: SstateTask, from: (i: number) => string): void {
  t.outputdirs.forEach((out, i) => installTree(from(i), out, t.manifests[i], t.owner, t.taskhash));
}

function clean(t: SstateTask): void {
  for (const m of t.manifests) removeInstalled(m);
}

async function afterTask(task: TaskRef, d: DataStore): Promise<void> {
  const t = sstateTaskOf(d, task.task);
  if (!t) return;
  const epoch = Number.parseInt(String(d.getVar("SOURCE_DATE_EPOCH") ?? "0"), 10) || 0;
  await createObject(t, epoch);
  install(t, (i) => t.inputdirs[i]);
}

async function restore(task: TaskRef, d: DataStore): Promise<true | undefined> {
  const real = task.task.slice(0, -SETSCENE.length);
  const t = sstateTaskOf(d, real);
  if (!t) return undefined;
  const work = join(String(d.getVar("WORKDIR")), `sstate-install-${real}`);
  mkdirSync(String(d.getVar("WORKDIR")), { recursive: true });
  await unpackObject(t, work);
  try {
    clean(t);
    install(t, (i) => join(work, "inputs", String(i)));
    t.plaindirs.forEach((dir, i) => {
      const from = join(work, "plain", String(i));
      if (!existsSync(from)) return;
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(join(dir, ".."), { recursive: true });
      renameSync(from, dir);
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return true;
}

export const plugin: KilnPlugin<Kiln> = {
  name: PLUGIN_NAME,
  apply(kiln) {
    kiln.hooks.taskPre.tapPromise(PLUGIN_NAME, async (task, d) => {
      const t = sstateTaskOf(d, task.task);
      if (t) clean(t);
    });
    kiln.hooks.taskPost.tapPromise(PLUGIN_NAME, async (task, d, result) => {
      if (result.ok) await afterTask(task, d);
    });
    // setscene bodies: every `do_x_setscene` hook as it is created
    kiln.hooks.taskFunction.intercept({
      factory: (key, hook) => {
        if (key.endsWith(SETSCENE)) hook.tapPromise(PLUGIN_NAME, (task, d) => restore(task, d));
        return hook;
      },
    });
    kiln.hooks.checkHashes.tapPromise(PLUGIN_NAME, async (found, candidates) => {
      const sstateDir = String(kiln.configuration().d.getVar("SSTATE_DIR") ?? "");
      for (const [id, c] of candidates) {
        const spec = c.recipe.indexVars?.SSTATE_PKGSPEC;
        if (spec === undefined || !c.taskhash) continue;
        if (existsSync(objectPath(sstateDir, spec, c.taskhash, c.task))) found.add(id);
      }
      return found;
    });
  },
};

export default plugin;
export { objectPath, sstateTaskOf } from "./objects.js";
export { createArchive, extractArchive } from "./archive.js";
export { installTree, removeInstalled, readManifest } from "./manifest.js";
