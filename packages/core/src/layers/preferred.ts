/**
 * Choosing among several recipes with the same PN, as bb.providers.findBestProvider:
 * PREFERRED_VERSION_<pn> (epoch optional, `%` wildcard at the end) searched from the
 * highest layer priority down; otherwise, within the highest-priority layer group,
 * the highest DEFAULT_PREFERENCE, then the highest version.
 */
import type { DataStore } from "../data/datastore.js";
import type { RecipeInfo } from "./recipe-info.js";
import { vercmpTuple } from "../util/version.js";

export interface Candidate {
  info: RecipeInfo;
  priority: number;
}

export interface Choice {
  chosen: Candidate;
  /** Set when PREFERRED_VERSION named a version no recipe has. */
  preferredMissing?: string;
}

const tuple = (i: RecipeInfo) => ({ epoch: Number.parseInt(i.pe || "0", 10) || 0, version: i.pv, revision: i.pr });

export function chooseRecipe(pn: string, candidates: Candidate[], d: DataStore): Choice {
  const groups = new Map<number, Candidate[]>();
  for (const c of candidates) groups.set(c.priority, [...(groups.get(c.priority) ?? []), c]);
  const ordered = [...groups.keys()].sort((a, b) => b - a).map((p) => groups.get(p) as Candidate[]);

  const preferred = d.getVar(`PREFERRED_VERSION_${pn}`);
  let preferredMissing: string | undefined;
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
      if (hit) return { chosen: hit };
    }
    preferredMissing = String(preferred);
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
  return { chosen: best as Candidate, preferredMissing };
}
