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
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { withLocks, type DataStore, type Kiln, type KilnPlugin, type TaskRef } from "@kiln/core";
import { installTree, removeInstalled } from "./manifest.js";
import { compressionFor, createObject, manifestsOf, objectPath, relocate, removeRecipeObjects, sstateTaskNames, sstateTaskOf, unpackObject, type SstateTask } from "./objects.js";
import { download, findOnMirrors, mirrorUrls, parseMirrors, urlExists } from "./mirrors.js";
import { sha256File, tempName, writeAtomic } from "./files.js";
import { mustVerify, sign, signingKey, verify } from "./signing.js";

export const PLUGIN_NAME = "kiln:sstate";

/** The name an object of `task` carries: its [sstate-name] (kept in the index), else the task's. */
export function sstateName(recipe: { tasks: { name: string; flags: Record<string, string> }[] }, task: string): string {
  return recipe.tasks.find((t) => t.name === task)?.flags["sstate-name"] || task;
}
const SETSCENE = "_setscene";

/** Install into the shared trees, holding `[sstate-lockfile]` when the task names one. */
async function install(t: SstateTask, d: DataStore, from: (i: number) => string): Promise<void> {
  const lock = String(d.getVarFlag(t.task, "sstate-lockfile") ?? "").trim();
  const allowed = (path: string) => t.allowOverlap.some((a) => path === a || path.startsWith(a.endsWith("/") ? a : `${a}/`));
  const run = async () => t.outputdirs.forEach((out, i) => installTree(from(i), out, t.manifests[i], t.owner, t.taskhash, allowed));
  if (lock) await withLocks([lock], run);
  else await run();
}

function clean(t: SstateTask): void {
  for (const m of t.manifests) removeInstalled(m);
}

/** Everything `d`'s recipe installed into shared trees, by the manifests of every SSTATETASKS task. */
function removeRecipeOutputs(d: DataStore): void {
  for (const task of sstateTaskNames(d)) for (const m of manifestsOf(d, task)) removeInstalled(m);
}

/** Objects written this build, by `id:taskhash`, waiting for their task's siginfo. */
const awaitingSiginfo = new Map<string, string>();

async function afterTask(task: TaskRef, d: DataStore): Promise<void> {
  const t = sstateTaskOf(d, task.task);
  if (!t) return;
  awaitingSiginfo.set(`${task.id}:${t.taskhash}`, t.object);
  const epoch = Number.parseInt(String(d.getVar("SOURCE_DATE_EPOCH") ?? "0"), 10) || 0;
  const key = signingKey(d);
  await createObject(t, epoch, String(d.getVar("TMPDIR")), key ? (file, sig) => sign(file, sig, key, d) : undefined);
  await install(t, d, (i) => t.inputdirs[i]);
}

/** Objects the availability check found on a mirror: local path -> URL. */
const onMirror = new Map<string, string>();

/**
 * Bring an object from a mirror into SSTATE_DIR: object and `.sha256` to temp names,
 * verified, then renamed into place (a bad download is never used).
 */
async function fetchObject(t: SstateTask, d: DataStore): Promise<void> {
  const sstateDir = String(d.getVar("SSTATE_DIR"));
  const rel = relative(sstateDir, t.object);
  let url = onMirror.get(t.object);
  if (!url) {
    for (const candidate of mirrorUrls(parseMirrors(d.getVar("SSTATE_MIRRORS")), rel)) {
      if (await urlExists(candidate)) {
        url = candidate;
        break;
      }
    }
  }
  if (!url) return;
  mkdirSync(join(t.object, ".."), { recursive: true });
  const tmp = tempName(t.object);
  const tmpSum = `${tmp}.sha256`;
  try {
    await download(url, tmp);
    await download(`${url}.sha256`, tmpSum);
    if (mustVerify(d)) await download(`${url}.sig`, `${tmp}.sig`);
    const expected = readFileSync(tmpSum, "utf8").trim();
    const actual = await sha256File(tmp);
    if (expected !== actual) throw new Error(`sstate object from ${url} has sha256 ${actual}, its .sha256 says ${expected}`);
    renameSync(tmpSum, `${t.object}.sha256`);
    if (existsSync(`${tmp}.sig`)) renameSync(`${tmp}.sig`, `${t.object}.sig`);
    renameSync(tmp, t.object);
  } finally {
    rmSync(tmp, { force: true });
    rmSync(tmpSum, { force: true });
    rmSync(`${tmp}.sig`, { force: true });
  }
}

async function restore(task: TaskRef, d: DataStore): Promise<true | undefined> {
  const real = task.task.slice(0, -SETSCENE.length);
  const t = sstateTaskOf(d, real);
  if (!t) return undefined;
  if (!existsSync(t.object)) await fetchObject(t, d);
  const work = join(String(d.getVar("WORKDIR")), `sstate-install-${real}`);
  mkdirSync(String(d.getVar("WORKDIR")), { recursive: true });
  await unpackObject(t, work, mustVerify(d) ? (file) => verify(file, d) : undefined);
  try {
    // files that named the build's TMPDIR name this build's
    relocate(work, String(d.getVar("TMPDIR")));
    clean(t);
    await install(t, d, (i) => join(work, "inputs", String(i)));
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
      if (!result.ok) return;
      // do_clean (as OpenEmbedded's sstate_cleanall): what the recipe installed into shared trees goes too
      if (task.task === "do_clean") removeRecipeOutputs(d);
      else await afterTask(task, d);
    });
    // do_cleansstate: the recipe's objects in SSTATE_DIR, every taskhash
    kiln.hooks.taskFunction.for("do_cleansstate").tapPromise(PLUGIN_NAME, async (_task, d, ctx) => {
      const removed = removeRecipeObjects(d);
      ctx.note(`Removed ${removed.length} shared state file${removed.length === 1 ? "" : "s"} of ${String(d.getVar("PN"))}`);
      return true;
    });
    // setscene bodies: every `do_x_setscene` hook as it is created
    kiln.hooks.taskFunction.intercept({
      factory: (key, hook) => {
        if (key.endsWith(SETSCENE)) hook.tapPromise(PLUGIN_NAME, (task, d) => restore(task, d));
        return hook;
      },
    });
    // the object's .siginfo sibling: the task's siginfo, once the run queue has written it
    kiln.hooks.taskStamped.tapPromise(PLUGIN_NAME, async (task, stamp) => {
      const key = `${task.id}:${stamp.taskhash}`;
      const object = awaitingSiginfo.get(key);
      awaitingSiginfo.delete(key);
      if (!object || !stamp.siginfoFile || !existsSync(stamp.siginfoFile) || existsSync(`${object}.siginfo`)) return;
      writeAtomic(`${object}.siginfo`, readFileSync(stamp.siginfoFile));
    });
    kiln.hooks.checkHashes.tapPromise(PLUGIN_NAME, async (found, candidates) => {
      const config = kiln.configuration().d;
      const sstateDir = String(config.getVar("SSTATE_DIR") ?? "");
      const compression = compressionFor(config);
      const remote: { key: string; rel: string; path: string }[] = [];
      for (const [id, c] of candidates) {
        const spec = c.recipe.indexVars?.SSTATE_PKGSPEC;
        if (spec === undefined || !c.taskhash) continue;
        const path = objectPath(sstateDir, spec, c.taskhash, sstateName(c.recipe, c.task), compression);
        if (existsSync(path)) found.add(id);
        else remote.push({ key: id, rel: relative(sstateDir, path), path });
      }
      // what is not here may be on a mirror: asked all at once, before the scenequeue runs
      const mirrors = parseMirrors(config.getVar("SSTATE_MIRRORS"), (m) =>
        kiln.hooks.log.call({ type: "Log", level: "warn", message: m, time: Date.now() }),
      );
      const timeout = Number(config.getVar("SSTATE_MIRROR_TIMEOUT") ?? "") * 1000;
      const hits = await findOnMirrors(remote, mirrors, 32, timeout > 0 ? timeout : undefined);
      for (const r of remote) {
        const url = hits.get(r.key);
        if (!url) continue;
        onMirror.set(r.path, url);
        found.add(r.key);
      }
      return found;
    });
  },
};

export default plugin;
export { objectPath, sstateTaskOf } from "./objects.js";
export { createArchive, extractArchive } from "./archive.js";
export { installTree, removeInstalled, readManifest } from "./manifest.js";
export { listObjects, pruneObjects, type ObjectRow } from "./admin.js";
