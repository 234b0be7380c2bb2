/**
 * What scheduling needs from a parsed recipe, small enough to cache (DESIGN §3):
 * names, versions, providers, dependencies and tasks with their dependency flags.
 */
import type { DataStore } from "../data/datastore.js";
import { listTasks, varsFromFile } from "../parse/recipe.js";
import { explodeDeps } from "../util/dep-list.js";
import type { ChecksumFile } from "../sig/file-checksums.js";

export interface TaskInfo {
  name: string;
  /** Same-recipe ordering from addtask after/before. */
  deps: string[];
  /** Expanded dependency-related flags (depends, deptask, rdeptask, ...). */
  flags: Record<string, string>;
}

export interface RecipeInfo {
  file: string;
  appends: string[];
  pn: string;
  pe: string;
  pv: string;
  pr: string;
  provides: string[];
  depends: string[];
  /** PACKAGES, or just PN when empty (as BitBake's cache does). */
  packages: string[];
  /** Per package: the recipe-wide value followed by the package's own (RDEPENDS + RDEPENDS:pkg). */
  rdepends: Record<string, string[]>;
  rrecommends: Record<string, string[]>;
  rprovides: Record<string, string[]>;
  /** PACKAGES_DYNAMIC: regexes of package names the recipe makes at packaging time. */
  packagesDynamic?: string[];
  defaultPreference: number;
  excludeFromWorld: boolean;
  /** Expanded STAMP: task stamps are `${STAMP}.do_task`. */
  stamp: string;
  tasks: TaskInfo[];
  /** basehash of each task (signatures, DESIGN §5), filled in when the recipe is parsed for the index. */
  basehashes?: Record<string, string>;
  /** Files whose content goes into each task's hash (local SRC_URI files, [file-checksums]). */
  checksumFiles?: Record<string, ChecksumFile[]>;
  /** Values of the variables KILN_INDEX_VARS names (what plugins need without parsing the recipe again). */
  indexVars?: Record<string, string>;
  /** Why the recipe is skipped (kiln.skipRecipe), if it is. */
  skipped?: string;
  /** Virtual recipes come from a plugin rather than a file. */
  virtual?: boolean;
  /**
   * Set on the virtual recipes of a plugin that looks their names up itself: Providers
   * asks this index per name instead of indexing each recipe's PROVIDES, PACKAGES and
   * RPROVIDES (a Debian suite's 60,000 recipes took ~0.2 s of every build to index).
   */
  providerIndex?: ProviderIndex;
}

/**
 * Name lookups over a plugin's many virtual recipes (see RecipeInfo.providerIndex).
 * Each answers what indexing every recipe of the group would have: the recipes (of the
 * group, preferred or not) whose PN or PROVIDES, PACKAGES, or PACKAGES and RPROVIDES
 * hold `name`.
 */
export interface ProviderIndex {
  build(name: string): readonly RecipeInfo[];
  packageOwners(name: string): readonly RecipeInfo[];
  runtime(name: string): readonly RecipeInfo[];
}

const TASK_FLAGS = [
  "depends",
  "rdepends",
  "deptask",
  "rdeptask",
  "recrdeptask",
  "recideptask",
  "nostamp",
  "fakeroot",
  "noexec",
  "umask",
  "network",
  "number_threads",
  "stamp-extra-info",
];

const words = (v: unknown) => (v === undefined || v === null ? [] : String(v).split(/\s+/).filter(Boolean));

export function recipeInfo(d: DataStore, file: string, appends: string[]): RecipeInfo {
  const skipped = d.getVar("__SKIPPED", false) as string | undefined;
  const [fpn, fpv, fpr] = varsFromFile(file);
  const pn = String(d.getVar("PN") ?? fpn ?? "defaultpkgname");
  const listed = words(d.getVar("PACKAGES"));
  const packages = listed.length ? listed : [pn];
  const perPackage = (prefix: string) => {
    const out: Record<string, string[]> = {};
    const recipeWide = explodeDeps(d.getVar(prefix));
    for (const pkg of packages) {
      const v = [...recipeWide, ...explodeDeps(d.getVar(`${prefix}:${pkg}`))];
      if (v.length) out[pkg] = v;
    }
    return out;
  };
  // plugins' flags kept in the index too (KILN_INDEX_FLAGS, e.g. the sstate plugin's sstate-name)
  const indexFlags = [...TASK_FLAGS, ...words(d.getVar("KILN_INDEX_FLAGS"))];
  const tasks: TaskInfo[] = skipped
    ? []
    : listTasks(d).map((name) => {
        const flags: Record<string, string> = {};
        for (const f of indexFlags) {
          const v = d.getVarFlag(name, f);
          if (v !== undefined && v !== null && v !== "") flags[f] = String(v);
        }
        return { name, deps: [...((d.getVarFlag(name, "deps", false) as string[] | undefined) ?? [])], flags };
      });
  return {
    file,
    appends,
    pn,
    pe: String(d.getVar("PE") ?? ""),
    pv: String(d.getVar("PV") ?? fpv ?? "1.0"),
    pr: String(d.getVar("PR") ?? fpr ?? "r0"),
    provides: [pn, ...words(d.getVar("PROVIDES")).filter((p) => p !== pn)],
    depends: explodeDeps(d.getVar("DEPENDS")),
    packages,
    rdepends: perPackage("RDEPENDS"),
    rrecommends: perPackage("RRECOMMENDS"),
    rprovides: perPackage("RPROVIDES"),
    packagesDynamic: words(d.getVar("PACKAGES_DYNAMIC")),
    defaultPreference: Number.parseInt(String(d.getVar("DEFAULT_PREFERENCE") ?? "0"), 10) || 0,
    excludeFromWorld: !!d.getVar("EXCLUDE_FROM_WORLD"),
    stamp: String(d.getVar("STAMP") ?? ""),
    indexVars: Object.fromEntries(words(d.getVar("KILN_INDEX_VARS")).map((v) => [v, String(d.getVar(v) ?? "")])),
    tasks,
    ...(skipped ? { skipped: String(skipped) } : {}),
  };
}
