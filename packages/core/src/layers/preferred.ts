/**
 * Choosing among several recipes with the same PN, as bb.providers.findBestProvider:
 * REQUIRED_VERSION_<pn>, else PREFERRED_VERSION_<pn> (epoch optional, `%` wildcard at
 * the end) searched from the highest layer priority down; otherwise, within the
 * highest-priority layer group, the highest DEFAULT_PREFERENCE, then the highest
 * version. A preferred version nobody has is a warning; a required one, an error.
 */
import type { DataStore } from "../data/datastore.js";
import type { RecipeInfo } from "./recipe-info.js";
import { vercmpTuple } from "../util/version.js";

export interface Candidate {
  info: RecipeInfo;
  priority: number;
}

export interface Choice {
  /** Undefined only when REQUIRED_VERSION names a version no recipe has: the PN then provides nothing. */
  chosen: Candidate | undefined;
  /** BitBake's warnings: a PREFERRED_VERSION no recipe has (and the versions there are), both variables set. */
  warnings: string[];
  /** A REQUIRED_VERSION no recipe has. */
  error?: string;
}

const tuple = (i: RecipeInfo) => ({ epoch: Number.parseInt(i.pe || "0", 10) || 0, version: i.pv, revision: i.pr });

export function chooseRecipe(pn: string, candidates: Candidate[], d: DataStore): Choice {
  const groups = new Map<number, Candidate[]>();
  for (const c of candidates) groups.set(c.priority, [...(groups.get(c.priority) ?? []), c]);
  const ordered = [...groups.keys()].sort((a, b) => b - a).map((p) => groups.get(p) as Candidate[]);
  const warnings: string[] = [];

  // REQUIRED_VERSION always takes precedence over PREFERRED_VERSION (bb.providers.findPreferredProvider)
  const requiredV = d.getVar(`REQUIRED_VERSION_${pn}`);
  let preferred = d.getVar(`PREFERRED_VERSION_${pn}`);
  const required = requiredV !== undefined && requiredV !== null;
  if (required) {
    if (preferred !== undefined && preferred !== null) warnings.push(`REQUIRED_VERSION and PREFERRED_VERSION for package ${pn} are both set using REQUIRED_VERSION ${requiredV}`);
    preferred = requiredV;
  }
  if (preferred) {
    const m = /^(?:(\d+):)?(.*)$/.exec(String(preferred)) as RegExpExecArray;
    const pe = m[1];
    const pv = m[2];
    for (const group of ordered) {
      const hit = group.find((c) => {
        const okEpoch = pe === undefined || (c.info.pe || "0") === pe;
        if (!okEpoch) return false;
        if (pv.endsWith("%")) return c.info.pv.startsWith(pv.slice(0, -1));
        return c.info.pv === pv;
      });
      if (hit) return { chosen: hit, warnings };
    }
    const available = [...new Set(candidates.map((c) => (c.info.pe && c.info.pe !== "0" ? `${c.info.pe}:${c.info.pv}` : c.info.pv)))].sort();
    if (required) return { chosen: undefined, warnings, error: `required version ${preferred} of ${pn} not available (versions of ${pn} available: ${available.join(" ")})` };
    warnings.push(`preferred version ${preferred} of ${pn} not available`, `versions of ${pn} available: ${available.join(" ")}`);
  }

  let best: Candidate | undefined;
  for (const c of ordered[0]) {
    if (
      !best ||
      c.info.defaultPreference > best.info.defaultPreference ||
      (c.info.defaultPreference === best.info.defaultPreference && vercmpTuple(tuple(best.info), tuple(c.info)) < 0)
    ) {
      best = c;
    }
  }
  return { chosen: best as Candidate, warnings };
}
