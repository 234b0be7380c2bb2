/**
 * @kiln/debian (DESIGN §9): a Debian suite's binary packages become virtual recipes
 * at parse time, and `inherit debian-rootfs` builds a Debian root filesystem from
 * them like debootstrap. Taps:
 *   synthesizeRecipes  load the suite (verified indexes, debian.lock), add one virtual
 *                      recipe per package, and give each debian-rootfs recipe's
 *                      do_rootfs a [depends] on the do_fetch of every package of its set
 *   taskFunction       do_install of debian-package.bbclass, do_rootfs of debian-rootfs
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { initShellParser, KilnError, type DataStore, type Kiln, type KilnPlugin, type RecipeIndexView, type RecipeInfo, type TaskContext } from "@kiln/core";
import { openArPackage } from "@kiln/image";
import { explainResolution, resolveRootfs, type ResolvedSet, type ResolveRequest, type Variant } from "./resolve.js";
import { extractDebPayload } from "./rootfs.js";
import { doRootfs } from "./rootfs-task.js";
import { writeAtomic } from "./archive.js";
import { markUsed, pruneUnused } from "./cache-files.js";
import { LOCK_FORMAT, writeLock } from "./lock.js";
import { loadSuite, type Suite } from "./suite.js";
import { allRows } from "./packages-index.js";
import type { DebianPackage } from "./types.js";
import { PackageTemplate, SuiteRecipes } from "./synth.js";

export const PLUGIN_NAME = "kiln:debian";

const CLASSES = {
  do_install: fileURLToPath(new URL("../classes/debian-package.bbclass", import.meta.url)),
  do_rootfs: fileURLToPath(new URL("../classes/debian-rootfs.bbclass", import.meta.url)),
};
const realIfThere = (p: string) => (existsSync(p) ? realpathSync(p) : p);
const str = (d: DataStore, name: string) => String(d.getVar(name) ?? "").trim();
const words = (v: string) => v.split(/\s+/).filter(Boolean);

function fromClass(d: DataStore, task: keyof typeof CLASSES): boolean {
  const file = String(d.getVarFlag(task, "filename") ?? "");
  return file !== "" && realIfThere(file) === realIfThere(CLASSES[task]);
}

const VARIANTS: Variant[] = ["essential", "minbase", "required", "custom"];

/** The resolution request of a debian-rootfs recipe, from its index variables. */
export function rootfsRequest(vars: Record<string, string>, where: string): ResolveRequest {
  const variant = (vars.DEBIAN_VARIANT ?? "minbase").trim() as Variant;
  if (!VARIANTS.includes(variant)) throw new KilnError("USAGE_ERROR", `${where}: DEBIAN_VARIANT = "${variant}" is not one of ${VARIANTS.join(", ")}`);
  return {
    variant,
    packages: words(vars.DEBIAN_PACKAGES ?? ""),
    mergedUsr: (vars.DEBIAN_MERGED_USR ?? "1").trim() !== "0",
    recommends: (vars.DEBIAN_RECOMMENDS ?? "0").trim() === "1",
  };
}

/** What the plugin knows after a parse: the suite and each rootfs recipe's set. */
export interface DebianState {
  suite: Suite;
  /** By recipe file: the resolved set, or why it could not be resolved. */
  rootfs: Map<string, { pn: string; set?: ResolvedSet; error?: Error }>;
}

const states = new WeakMap<Kiln, DebianState>();

export function debianState(kiln: Kiln): DebianState {
  const s = states.get(kiln);
  if (!s) throw new KilnError("FATAL", "@kiln/debian: the recipes have not been parsed yet");
  return s;
}

/** The set of a debian-rootfs recipe by PN (for `kiln debian show/lock`). */
export function rootfsSet(kiln: Kiln, pn: string): ResolvedSet {
  const entry = [...debianState(kiln).rootfs.values()].find((r) => r.pn === pn);
  if (!entry) throw new KilnError("USAGE_ERROR", `${pn} is not a recipe that inherits debian-rootfs`);
  if (entry.error) throw entry.error;
  return entry.set as ResolvedSet;
}

/** Write debian.lock with the packages of the debian-rootfs recipes `pns`. */
export function lockSets(kiln: Kiln, pns: string[]): { file: string; count: number } {
  const { suite } = debianState(kiln);
  const byName = new Map<string, DebianPackage>();
  for (const pn of pns) for (const p of rootfsSet(kiln, pn).packages) byName.set(p.name, p);
  writeLock(suite.lockFile, {
    format: LOCK_FORMAT,
    mirror: suite.cfg.mirror,
    suite: suite.cfg.suite,
    arch: suite.cfg.arch,
    release: { date: suite.release.date, sha256: suite.release.sha256 },
    packages: [...byName.values()],
  });
  return { file: suite.lockFile, count: byName.size };
}

/** Bump when resolution changes: cached sets from before are ignored. */
const RESOLUTION_FORMAT = "kiln-debian-resolution-1";

/**
 * resolveRootfs, its result cached per universe and request (CACHE/debian): the same
 * index, lock and settings give the same set, and a parse need not work it out again.
 */
function cachedResolution(suite: Suite, request: ResolveRequest): ResolvedSet {
  const key = createHash("sha256").update(JSON.stringify([RESOLUTION_FORMAT, suite.universeKey, request])).digest("hex");
  const file = join(suite.cacheDir, "debian", `rootfs-${key}.json`);
  try {
    const cached = JSON.parse(readFileSync(file, "utf8")) as { names: string[]; why: [string, string][]; warnings: string[] };
    const packages = cached.names.map((n) => suite.universe.byName.get(n));
    if (packages.every((p) => p !== undefined)) {
      markUsed(file);
      return { packages: packages as DebianPackage[], why: new Map(cached.why), warnings: cached.warnings };
    }
  } catch {
    // not cached (or unreadable): resolved below
  }
  const set = resolveRootfs(suite.universe, request);
  writeAtomic(file, JSON.stringify({ names: set.packages.map((p) => p.name), why: [...set.why], warnings: set.warnings }));
  pruneUnused(dirname(file), /^rootfs-[0-9a-f]{64}\.json$/);
  return set;
}

/** do_rootfs gets a [depends] on the do_fetch of each package of its set. */
function withFetchDepends(info: RecipeInfo, set: ResolvedSet, prefix: string): RecipeInfo {
  const fetches = set.packages.map((p) => `${prefix}${p.name}:do_fetch`).join(" ");
  const tasks = info.tasks.map((t) => (t.name === "do_rootfs" ? { ...t, flags: { ...t.flags, depends: [t.flags.depends ?? "", fetches].join(" ").trim() } } : t));
  return { ...info, tasks };
}

async function synthesize(kiln: Kiln, index: RecipeIndexView, d: DataStore): Promise<void> {
  // the shell parser (for the template's basehashes; the parse of files may all have
  // been cached) loads while the suite's indexes are fetched and read
  const shellParser = initShellParser();
  shellParser.catch(() => undefined);
  const suite = await loadSuite(kiln, d);
  await shellParser;
  const template = new PackageTemplate(d);
  // the packages' recipes, made as they are looked up
  index.addVirtualGroup(new SuiteRecipes(template, suite.prefix, suite.cfg.suite, suite.universe));

  const state: DebianState = { suite, rootfs: new Map() };
  // without a lock every record comes from the index, so only locked sets need the check
  const onMirror = suite.lock ? new Set(allRows(suite.rows).map((p) => `${p.name}\u0000${p.version}`)) : undefined;
  for (const info of index.recipes) {
    if (info.skipped || info.indexVars?.DEBIAN_ROOTFS !== "1") continue;
    try {
      const set = cachedResolution(suite, rootfsRequest(info.indexVars, info.pn));
      // a locked version the mirror dropped can only come from DL_DIR
      const gone = onMirror ? set.packages.filter((p) => !onMirror.has(`${p.name}\u0000${p.version}`) && !existsSync(`${str(d, "DL_DIR")}/debian/${p.filename}`)) : [];
      if (gone.length) {
        throw new KilnError("FETCH_ERROR", `${suite.lockFile} pins ${gone.map((p) => `${p.name} ${p.version}`).join(", ")}, which ${suite.cfg.suite} no longer has (and DL_DIR holds no copy)`, {
          hint: "run `kiln debian lock --update TARGET` to move to the suite's versions",
        });
      }
      state.rootfs.set(info.file, { pn: info.pn, set });
      index.replace(withFetchDepends(info, set, suite.prefix));
    } catch (error) {
      state.rootfs.set(info.file, { pn: info.pn, error: error as Error });
      index.replace({ ...info, skipped: (error as Error).message });
    }
  }
  states.set(kiln, state);
}

async function doInstall(_kiln: Kiln, d: DataStore, ctx: TaskContext): Promise<void> {
  const deb = str(d, "DEBIAN_DEB");
  // Debian's own extractor: packages hold absolute symlinks and hard links (libc6's
  // dynamic loader link), which core's generic one refuses; escapes are still refused
  const opened = await openArPackage(deb, str(d, "DEBIAN_PACKAGE"), { extractPayload: (data, dest, what) => extractDebPayload(data, dest, what) });
  await opened.extract(str(d, "D"));
  ctx.log(`unpacked ${deb} into ${str(d, "D")}`);
}

export const plugin: KilnPlugin<Kiln> & { api: { debianState: typeof debianState; rootfsSet: typeof rootfsSet; explainResolution: typeof explainResolution; lockSets: typeof lockSets } } = {
  name: PLUGIN_NAME,
  api: { debianState, rootfsSet, explainResolution, lockSets },
  apply(kiln) {
    kiln.hooks.synthesizeRecipes.tapPromise(PLUGIN_NAME, (index, d) => synthesize(kiln, index, d));
    const bodies: [keyof typeof CLASSES, (kiln: Kiln, d: DataStore, ctx: TaskContext) => Promise<void>][] = [
      ["do_install", doInstall],
      ["do_rootfs", (k, d, ctx) => doRootfs(k, d, ctx, debianState(k))],
    ];
    for (const [task, body] of bodies) {
      kiln.hooks.taskFunction.for(task).tapPromise(PLUGIN_NAME, async (_t, d, ctx) => {
        if (!fromClass(d, task)) return undefined;
        await body(kiln, d, ctx);
        return true;
      });
    }
  },
};
export default plugin;

export { loadSuite, suiteConfig, type Suite } from "./suite.js";
export { readLock, writeLock, type DebianLock } from "./lock.js";
export { compareDebVersions, parseDebVersion } from "./version.js";
export { parseRelations, versionSatisfies } from "./relations.js";
export { buildUniverse, resolveRootfs, explainResolution, type ResolvedSet, type Universe } from "./resolve.js";
export type { DebianPackage };
