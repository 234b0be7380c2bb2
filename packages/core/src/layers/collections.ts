/**
 * Layer collections as BitBake's cooker reads them (handleCollections, and the
 * checks parseConfigurationFiles makes after the layers' layer.conf files):
 * BBFILE_COLLECTIONS named once each; BBFILE_PATTERN_<c> required (empty: matches no
 * file); LAYERDEPENDS_<c> present, with their version constraints met by
 * LAYERVERSION_<dep>; LAYERRECOMMENDS_<c> used when present and matching; a layer
 * without BBFILE_PRIORITY_<c> placed one above the highest priority of what it depends
 * on or recommends (the lowest explicit priority when it depends on nothing; an
 * explicit 0 counts as none, as in BitBake);
 * LAYERSERIES_COMPAT_<c> sharing a name with LAYERSERIES_CORENAMES. BitBake also
 * warns about a layer without LAYERSERIES_COMPAT; kiln's base layer names no series,
 * so kiln does not.
 */
import type { DataStore } from "../data/datastore.js";
import { LayerError } from "../errors.js";
import { explodeDepVersions } from "../util/dep-list.js";
import { vercmpOp } from "../util/version.js";

export interface Collection {
  name: string;
  /** Anchored at the start of a recipe path, as Python's re.match. */
  pattern: RegExp;
  /** BBFILE_PATTERN_<name> as set. */
  source: string;
  priority: number;
  /** LAYERDEPENDS names. */
  depends: string[];
}

const words = (v: unknown) => String(v ?? "").split(/\s+/).filter(Boolean);

/** bb.utils.vercmp_string_op, which raises for an operator it does not know. */
function versionOp(a: string, b: string, op: string): boolean {
  const ok = vercmpOp(a, b, op);
  if (ok === undefined) throw new LayerError(`unsupported version comparison '${op}'`);
  return ok;
}

/** The collections of the configuration, in BBFILE_COLLECTIONS order; every problem found is reported at once. */
export function layerCollections(d: DataStore): Collection[] {
  const names = words(d.getVar("BBFILE_COLLECTIONS"));
  const errors: string[] = [];
  const seen = new Set<string>();
  for (const c of names) {
    if (seen.has(c)) errors.push(`BBFILE_COLLECTIONS names '${c}' twice (check bblayers.conf and the layers' layer.conf)`);
    seen.add(c);
  }
  const list = [...seen];

  const series = new Set(words(d.getVar("LAYERSERIES_CORENAMES")));
  for (const c of list) {
    const compat = words(d.getVar(`LAYERSERIES_COMPAT_${c}`));
    if (!compat.length) continue;
    if (!series.size) errors.push(`No core layer found to work with layer '${c}' (it sets LAYERSERIES_COMPAT_${c}, but nothing sets LAYERSERIES_CORENAMES)`);
    else if (!compat.some((s) => series.has(s))) {
      errors.push(`Layer ${c} is not compatible with the core layer which only supports these series: ${[...series].join(" ")} (layer is compatible with ${compat.join(" ")})`);
    }
  }

  const explicit = new Map<string, number>();
  let lowest = 0;
  for (const c of list) {
    const raw = d.getVar(`BBFILE_PRIORITY_${c}`);
    if (raw === undefined || raw === null || String(raw) === "") continue;
    const prio = /^\s*[+-]?\d+\s*$/.test(String(raw)) ? Number.parseInt(String(raw), 10) : Number.NaN;
    if (Number.isNaN(prio)) {
      errors.push(`invalid value for BBFILE_PRIORITY_${c}: "${String(raw)}"`);
      continue;
    }
    explicit.set(c, prio);
    if (lowest === 0 || prio < lowest) lowest = prio;
  }

  const present = new Set(list);
  const depends = new Map<string, string[]>();
  const ranked = new Map<string, string[]>();
  const constraints = (c: string, variable: string): Map<string, string[]> => {
    try {
      return explodeDepVersions(d.getVar(`${variable}_${c}`));
    } catch (err) {
      errors.push(`${variable}_${c}: ${(err as Error).message}`);
      return new Map();
    }
  };
  const versionOk = (dep: string, constraint: string): boolean | undefined => {
    const version = d.getVar(`LAYERVERSION_${dep}`);
    if (version === undefined || version === null || String(version) === "") return undefined;
    const [op, want] = constraint.split(/\s+/);
    return versionOp(String(version), want ?? "", op ?? "");
  };
  for (const c of list) {
    const deps = constraints(c, "LAYERDEPENDS");
    for (const [dep, ops] of deps) {
      if (!present.has(dep)) {
        errors.push(`Layer '${c}' depends on layer '${dep}', but this layer is not enabled in your configuration`);
        continue;
      }
      for (const op of ops) {
        let ok: boolean | undefined;
        try {
          ok = versionOk(dep, op);
        } catch (err) {
          errors.push(`LAYERDEPENDS_${c}: ${(err as Error).message}`);
          continue;
        }
        if (ok === undefined) {
          errors.push(`Layer '${c}' depends on version ${op} of layer '${dep}', which exists in your configuration but does not specify a version (LAYERVERSION_${dep})`);
        } else if (!ok) {
          errors.push(`Layer '${c}' depends on version ${op} of layer '${dep}', but version ${String(d.getVar(`LAYERVERSION_${dep}`))} is currently enabled in your configuration`);
        }
      }
    }
    depends.set(c, [...deps.keys()]);
    // recommendations count only when present and matching; they never fail
    const recs = [...constraints(c, "LAYERRECOMMENDS")].filter(([dep, ops]) => present.has(dep) && ops.every((op) => {
      try {
        return versionOk(dep, op) === true;
      } catch {
        return false;
      }
    }));
    ranked.set(c, [...deps.keys(), ...recs.map(([dep]) => dep)].filter((dep) => present.has(dep)));
  }

  const priority = new Map(explicit);
  const visiting = new Set<string>();
  const priorityOf = (c: string): number => {
    const known = priority.get(c);
    // BitBake's calc_layer_priority: a priority of 0 counts as none, and is worked out
    if (known) return known;
    // a cycle of layers without priorities: each takes the lowest (BitBake would recurse forever)
    if (visiting.has(c)) return lowest;
    visiting.add(c);
    let highest = lowest;
    for (const dep of ranked.get(c) ?? []) highest = Math.max(highest, priorityOf(dep));
    visiting.delete(c);
    priority.set(c, highest + 1);
    return highest + 1;
  };

  const out: Collection[] = [];
  for (const c of list) {
    const raw = d.getVar(`BBFILE_PATTERN_${c}`);
    if (raw === undefined || raw === null) {
      errors.push(`BBFILE_PATTERN_${c} not defined`);
      continue;
    }
    let pattern: RegExp;
    try {
      // Python's re.match: anchored at the start; an empty pattern matches no recipe
      pattern = String(raw) === "" ? /^(?!)/ : new RegExp(`^(?:${String(raw)})`);
    } catch {
      errors.push(`BBFILE_PATTERN_${c} "${String(raw)}" is not a valid regular expression`);
      continue;
    }
    out.push({ name: c, pattern, source: String(raw), priority: priorityOf(c), depends: depends.get(c) ?? [] });
  }
  if (errors.length) {
    throw new LayerError(`Errors during parsing layer configuration:\n  ${errors.join("\n  ")}`, { hint: "fix the layers' conf/layer.conf or BBLAYERS in bblayers.conf" });
  }
  return out;
}

/**
 * BBFILES_DYNAMIC: each `collection:pattern` entry adds its pattern to BBFILES when
 * that collection is in BBFILE_COLLECTIONS (`!collection:pattern` when it is not).
 */
export function applyDynamicBbfiles(d: DataStore): void {
  const collections = new Set(words(d.getVar("BBFILE_COLLECTIONS")));
  const invalid: string[] = [];
  for (const entry of words(d.getVar("BBFILES_DYNAMIC"))) {
    const colon = entry.indexOf(":");
    if (colon < 0) {
      invalid.push(entry);
      continue;
    }
    let layer = entry.slice(0, colon);
    const pattern = entry.slice(colon + 1);
    const invert = layer.startsWith("!");
    if (invert) layer = layer.slice(1);
    // appended at once (bb's appendVar), not as a deferred :append
    if (collections.has(layer) !== invert) d.setVar("BBFILES", `${String(d.getVar("BBFILES", false) ?? "")} ${pattern}`, { file: "[BBFILES_DYNAMIC]", line: 0, op: "append" });
  }
  if (invalid.length) {
    throw new LayerError(`BBFILES_DYNAMIC entries must be of the form {!}<collection name>:<filename pattern>, not:\n    ${invalid.join("\n    ")}`);
  }
}
