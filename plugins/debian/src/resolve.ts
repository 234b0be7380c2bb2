/**
 * The package set of a Debian root filesystem, computed the way debootstrap and
 * mmdebstrap do: a seed set chosen by the variant, then the closure over hard
 * dependencies (Pre-Depends and Depends; Recommends only on request).
 *
 * Sources of the semantics (documented behaviour, re-implemented here):
 *  - Seeds. mmdebstrap(1), VARIANTS: `essential` = the `Essential: yes` packages;
 *    `required`/`minbase` = "the essential set plus all packages with
 *    Priority:required and apt"; `custom` = nothing but `--include`; every variant
 *    adds the `--include` packages with "their direct and indirect hard dependencies".
 *    debootstrap's scripts/debian-common, work_out_debs(): minbase = every
 *    `Priority: required` package plus `apt` (in Debian the Essential set is a subset
 *    of Priority: required, so both definitions give the same seeds).
 *  - Closure. mmdebstrap(1): "direct and indirect hard dependencies (but not
 *    recommends)"; debootstrap's resolve_deps() follows Depends and Pre-Depends only.
 *  - Alternatives and virtual packages. As apt (which mmdebstrap uses): an or-group
 *    already satisfied by a package being installed adds nothing; otherwise the
 *    alternatives are tried in order, and for each the real package of that name comes
 *    before providers (apt's CompareProviders prefers the target's own package). Among
 *    several providers, apt prefers installed, then Essential, then Important, then the
 *    higher Priority, then an arbitrary cache order; here: selected, then Essential,
 *    then Priority (required < important < standard < optional < extra), then the
 *    package name (a deterministic stand-in for apt's cache order). So `awk` resolves
 *    to mawk (Priority: required) rather than gawk (optional).
 *  - Merged /usr. debootstrap's work_out_debs(), for bookworm and later: adds
 *    usr-is-merged and excludes usrmerge from dependency resolution, so
 *    `usrmerge | usr-is-merged` (init-system-helpers) resolves to usr-is-merged. With
 *    mergedUsr (the default), an alternative naming usr-is-merged is preferred.
 *  - Versioned Provides: Debian Policy 7.5: a versioned relation is satisfied only by
 *    a `Provides: name (= version)` whose version satisfies it; an unversioned Provides
 *    never does (versionSatisfies in relations.ts).
 *
 * Relationship fields are parsed lazily, once per package object, since a resolution
 * visits a few hundred packages of a universe of tens of thousands.
 */
import { DependencyError, UsageError } from "@kiln/core";
import type { DebianPackage } from "./types.js";
import { compareDebVersions } from "./version.js";
import { formatRelation, parseRelations, relationsForArch, versionSatisfies } from "./relations.js";
import type { Alternatives, Relation } from "./relations.js";

/** A package whose Provides names a name, with the version it provides (when versioned). */
export interface Provider {
  pkg: DebianPackage;
  version?: string;
}

/**
 * The packages a resolution chooses from: one per name, of one architecture (+ all).
 * Read-only maps: a cached universe (universe-cache.ts) finds entries when asked.
 */
export interface Universe {
  byName: ReadonlyMap<string, DebianPackage>;
  /** Virtual (and real) names to the packages whose Provides name them, sorted by package name. */
  providers: ReadonlyMap<string, readonly Provider[]>;
  arch: string;
}

export type Variant = "essential" | "minbase" | "required" | "custom";

export interface ResolveRequest {
  variant: Variant;
  /** DEBIAN_PACKAGES: package names (no versions) added to the variant's seeds. */
  packages?: string[];
  /** Merged /usr (default true): prefer usr-is-merged over usrmerge in alternatives. */
  mergedUsr?: boolean;
  /** Follow Recommends too (default false, as debootstrap and mmdebstrap). */
  recommends?: boolean;
}

export interface ResolvedSet {
  /** Sorted by name. */
  packages: DebianPackage[];
  /**
   * Why each package is in the set: "Essential: yes", "Priority: required",
   * "variant minbase: apt", "DEBIAN_PACKAGES", "Depends of X: a | b",
   * "Pre-Depends of X: ...", "Recommends of X: ...", "provides awk (Depends of Y)".
   */
  why: Map<string, string>;
  /** Conflicts/Breaks between selected packages (not errors: dpkg decides). Sorted. */
  warnings: string[];
}

type Field = "Pre-Depends" | "Depends" | "Recommends" | "Conflicts" | "Breaks";

const FIELD_KEY: Record<Field, keyof DebianPackage> = {
  "Pre-Depends": "preDepends",
  Depends: "depends",
  Recommends: "recommends",
  Conflicts: "conflicts",
  Breaks: "breaks",
};

// ---------------------------------------------------------------------------------------
// Universe

function archRank(p: DebianPackage): number {
  return p.arch === "all" ? 1 : 0;
}

/** Whether `a` should replace `b` as the package of its name: newer wins, ties broken stably. */
function preferOver(a: DebianPackage, b: DebianPackage): boolean {
  const c = compareDebVersions(a.version, b.version);
  if (c !== 0) return c > 0;
  // Same version twice (e.g. two components): arch-specific over all, then by pool path,
  // so the result never depends on the order of the input.
  if (archRank(a) !== archRank(b)) return archRank(a) < archRank(b);
  if (a.filename !== b.filename) return a.filename < b.filename;
  return a.sha256 < b.sha256;
}

const byPkgName = (a: { pkg: DebianPackage }, b: { pkg: DebianPackage }): number =>
  a.pkg.name < b.pkg.name ? -1 : a.pkg.name > b.pkg.name ? 1 : 0;

/**
 * The universe of a suite for `arch`: packages of `arch` or `all` only, the newest
 * version (dpkg order) of each name, and the providers of every name some package's
 * Provides lists (a versioned Provides keeps its version).
 */
/** `name` or `name (= version)` of a Provides list, nothing else (no qualifiers, other operators). */
const SIMPLE_PROVIDE = /^\s*([a-z0-9][a-z0-9+.-]*)\s*(?:\(\s*=\s*([^\s()]+)\s*\))?\s*$/;

export function buildUniverse(pkgs: Iterable<DebianPackage>, arch: string): Universe {
  const byName = new Map<string, DebianPackage>();
  for (const p of pkgs) {
    if (p.arch !== arch && p.arch !== "all") continue;
    const cur = byName.get(p.name);
    if (cur === undefined || (cur !== p && preferOver(p, cur))) byName.set(p.name, p);
  }
  const providers = new Map<string, Provider[]>();
  const add = (name: string, entry: Provider) => {
    const list = providers.get(name);
    if (list) list.push(entry);
    else providers.set(name, [entry]);
  };
  for (const p of byName.values()) {
    if (p.provides === "") continue;
    // the common shapes (`a, b (= 1.0)`) without the full relation parser: tens of
    // thousands of packages are indexed on every parse; anything else goes through it
    const simple = p.provides.split(",").map((item) => SIMPLE_PROVIDE.exec(item));
    if (simple.every((m) => m !== null)) {
      for (const m of simple as RegExpExecArray[]) add(m[1], m[2] === undefined ? { pkg: p } : { pkg: p, version: m[2] });
      continue;
    }
    for (const alts of parsedField(p, "provides")) {
      for (const r of alts) add(r.name, r.op === "=" && r.version !== undefined ? { pkg: p, version: r.version } : { pkg: p });
    }
  }
  for (const list of providers.values()) if (list.length > 1) list.sort(byPkgName);
  return { byName, providers, arch };
}

// ---------------------------------------------------------------------------------------
// Lazy relation parsing

type FieldName = "preDepends" | "depends" | "recommends" | "conflicts" | "breaks" | "provides";

const FIELD_LABEL: Record<FieldName, string> = {
  preDepends: "Pre-Depends",
  depends: "Depends",
  recommends: "Recommends",
  conflicts: "Conflicts",
  breaks: "Breaks",
  provides: "Provides",
};

const parsedCache = new WeakMap<DebianPackage, Partial<Record<FieldName, Alternatives[]>>>();

function parsedField(p: DebianPackage, field: FieldName): Alternatives[] {
  let entry = parsedCache.get(p);
  if (entry === undefined) {
    entry = {};
    parsedCache.set(p, entry);
  }
  let v = entry[field];
  if (v === undefined) {
    const raw = p[field];
    v = raw === "" ? [] : parseRelations(raw, `${p.name} ${p.version} ${FIELD_LABEL[field]}`);
    entry[field] = v;
  }
  return v;
}

function relationsOf(p: DebianPackage, field: Field, arch: string): Alternatives[] {
  const all = parsedField(p, FIELD_KEY[field] as FieldName);
  return all.length === 0 ? all : relationsForArch(all, arch);
}

// ---------------------------------------------------------------------------------------
// Seeds

/** A package name as relations.ts accepts one (Policy 5.6.1 is stricter; archives are not). */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9+.\-_]*$/;

function sortedNames(u: Universe, pred: (p: DebianPackage) => boolean): string[] {
  const out: string[] = [];
  for (const p of u.byName.values()) if (pred(p)) out.push(p.name);
  return out.sort();
}

/**
 * The seeds of a request, in order: the variant's (Essential: yes, then Priority:
 * required, then apt, each sorted by name), then DEBIAN_PACKAGES in the order given.
 * A name seeded twice keeps its first reason.
 */
export function seedPackages(u: Universe, req: ResolveRequest): { name: string; why: string }[] {
  const out: { name: string; why: string }[] = [];
  const seen = new Set<string>();
  const add = (name: string, why: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    out.push({ name, why });
  };
  const v = req.variant;
  if (v !== "essential" && v !== "minbase" && v !== "required" && v !== "custom") {
    throw new UsageError(`Unknown Debian variant '${String(v)}'`, {
      hint: "use one of essential, minbase, required, custom",
    });
  }
  if (v !== "custom") {
    for (const n of sortedNames(u, (p) => p.essential)) add(n, "Essential: yes");
  }
  if (v === "minbase" || v === "required") {
    for (const n of sortedNames(u, (p) => p.priority.trim().toLowerCase() === "required")) {
      add(n, "Priority: required");
    }
    if (!u.byName.has("apt")) {
      throw new DependencyError(`Variant ${v} needs the package apt, but the ${u.arch} universe has no apt`, {
        hint: "check that the suite's main component is configured, or use the essential or custom variant",
        details: { variant: v, package: "apt", chain: [`variant ${v}: apt`] },
      });
    }
    add("apt", `variant ${v}: apt`);
  }
  for (const raw of req.packages ?? []) {
    const name = raw.trim();
    if (name === "") continue;
    if (!NAME_RE.test(name)) {
      throw new UsageError(`DEBIAN_PACKAGES: '${raw}' is not a package name`, {
        hint: "DEBIAN_PACKAGES lists package names only; versions come from the suite (and the lock file)",
      });
    }
    if (!u.byName.has(name) && !u.providers.has(name)) {
      throw new DependencyError(`DEBIAN_PACKAGES: no package ${name} for ${u.arch} in the suite`, {
        hint: `check the spelling, the components (contrib, non-free, ...) and the architecture (${u.arch})`,
        details: { package: name, field: "DEBIAN_PACKAGES", chain: ["DEBIAN_PACKAGES"] },
      });
    }
    add(name, "DEBIAN_PACKAGES");
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Resolution

const PRIORITY_RANK: Record<string, number> = { required: 1, important: 2, standard: 3, optional: 4, extra: 5 };
const priorityRank = (p: DebianPackage): number => PRIORITY_RANK[p.priority.trim().toLowerCase()] ?? 6;

/** Whether the relation's architecture qualifier can be met in a one-architecture universe. */
function qualifierOk(r: Relation, arch: string): boolean {
  const q = r.archQualifier;
  return q === undefined || q === "any" || q === "native" || q === arch;
}

const formatGroup = (g: Alternatives): string => g.map((r) => formatRelation(r)).join(" | ");

interface Link {
  parent: string;
  field: Field;
  text: string;
}

class Resolver {
  readonly selected = new Map<string, DebianPackage>();
  readonly why = new Map<string, string>();
  readonly link = new Map<string, Link>();
  /** What the selected packages provide: name -> provided versions (undefined = unversioned). */
  readonly provided = new Map<string, { pkg: DebianPackage; version?: string }[]>();
  readonly queue: DebianPackage[] = [];
  private head = 0;

  constructor(
    readonly u: Universe,
    readonly mergedUsr: boolean,
    readonly recommends: boolean,
  ) {}

  select(p: DebianPackage, why: string, link?: Link): void {
    if (this.selected.has(p.name)) return;
    this.selected.set(p.name, p);
    this.why.set(p.name, why);
    if (link) this.link.set(p.name, link);
    if (p.provides !== "") {
      for (const alts of parsedField(p, "provides")) {
        for (const r of alts) {
          const entry: { pkg: DebianPackage; version?: string } = { pkg: p };
          if (r.op === "=" && r.version !== undefined) entry.version = r.version;
          const list = this.provided.get(r.name);
          if (list) list.push(entry);
          else this.provided.set(r.name, [entry]);
        }
      }
    }
    this.queue.push(p);
  }

  /** A selected package (or a selected provider) satisfies r. */
  satisfiedBySelected(r: Relation): boolean {
    if (!qualifierOk(r, this.u.arch)) return false;
    const real = this.selected.get(r.name);
    if (real !== undefined && versionSatisfies(real.version, r.op, r.version)) return true;
    const provs = this.provided.get(r.name);
    if (provs) for (const pv of provs) if (versionSatisfies(pv.version, r.op, r.version)) return true;
    return false;
  }

  /** The package of the universe that satisfies r, and whether it does so by Provides. */
  candidate(r: Relation): { pkg: DebianPackage; virtual: boolean } | undefined {
    if (!qualifierOk(r, this.u.arch)) return undefined;
    const real = this.u.byName.get(r.name);
    if (real !== undefined && versionSatisfies(real.version, r.op, r.version)) return { pkg: real, virtual: false };
    const provs = this.u.providers.get(r.name);
    if (!provs) return undefined;
    let best: DebianPackage | undefined;
    for (const pv of provs) {
      if (!versionSatisfies(pv.version, r.op, r.version)) continue;
      if (best === undefined || this.betterProvider(pv.pkg, best)) best = pv.pkg;
    }
    return best === undefined ? undefined : { pkg: best, virtual: true };
  }

  /** apt's CompareProviders, minus what a one-arch, nothing-installed universe lacks. */
  private betterProvider(a: DebianPackage, b: DebianPackage): boolean {
    const sa = this.selected.has(a.name);
    const sb = this.selected.has(b.name);
    if (sa !== sb) return sa;
    if (a.essential !== b.essential) return a.essential;
    const pa = priorityRank(a);
    const pb = priorityRank(b);
    if (pa !== pb) return pa < pb;
    return a.name < b.name;
  }

  /** The alternatives in the order they are tried. */
  private ordered(group: Alternatives): Alternatives {
    if (!this.mergedUsr || group.length < 2) return group;
    const i = group.findIndex((r) => r.name === "usr-is-merged");
    if (i <= 0) return group;
    return [group[i], ...group.slice(0, i), ...group.slice(i + 1)];
  }

  run(): void {
    const fields: Field[] = this.recommends ? ["Pre-Depends", "Depends", "Recommends"] : ["Pre-Depends", "Depends"];
    while (this.head < this.queue.length) {
      const p = this.queue[this.head++];
      for (const field of fields) {
        for (const group of relationsOf(p, field, this.u.arch)) {
          if (group.length === 0) continue;
          if (group.some((r) => this.satisfiedBySelected(r))) continue;
          let chosen: { pkg: DebianPackage; virtual: boolean; rel: Relation } | undefined;
          for (const r of this.ordered(group)) {
            const c = this.candidate(r);
            if (c) {
              chosen = { ...c, rel: r };
              break;
            }
          }
          const text = formatGroup(group);
          if (chosen === undefined) {
            if (field === "Recommends") continue; // apt skips an uninstallable Recommends
            throw this.unsatisfiable(p, field, group, text);
          }
          const link: Link = { parent: p.name, field, text };
          const why = chosen.virtual
            ? `provides ${chosen.rel.name} (${field} of ${p.name})`
            : `${field} of ${p.name}: ${text}`;
          this.select(chosen.pkg, why, link);
        }
      }
    }
  }

  /** The chain of reasons that pulled `name` in, from its seed down. */
  chain(name: string): string[] {
    const steps: string[] = [];
    const guard = new Set<string>();
    let cur = name;
    for (;;) {
      const l = this.link.get(cur);
      if (l === undefined || guard.has(cur)) break;
      guard.add(cur);
      steps.push(`${l.parent} ${l.field}: ${l.text}`);
      cur = l.parent;
    }
    steps.push(`${this.why.get(cur) ?? "?"}${this.seedSuffix(cur)}`);
    return steps.reverse();
  }

  private seedSuffix(name: string): string {
    const w = this.why.get(name) ?? "";
    // "variant minbase: apt" already names the package; the others do not.
    return w.endsWith(`: ${name}`) ? "" : ` (${name})`;
  }

  private unsatisfiable(p: DebianPackage, field: Field, group: Alternatives, text: string): DependencyError {
    const reasons = group.map((r) => this.whyNot(r));
    const chain = [...this.chain(p.name), `${p.name} ${field}: ${text}`];
    const versioned = group.some((r) => r.op !== undefined);
    return new DependencyError(
      `Cannot resolve ${p.name} ${p.version} ${field}: ${text} (${reasons.join("; ")})\n  pulled in by: ${chain.join(" -> ")}`,
      {
        hint: versioned
          ? "the suite's Packages index does not have a version that satisfies it: mixed or stale indexes (a missing -updates/-security suite, an old snapshot) are the usual cause"
          : `nothing in the ${this.u.arch} universe provides it: check the suite's components (contrib, non-free, ...) and the architecture, or drop the package that needs it from DEBIAN_PACKAGES`,
        details: { package: p.name, version: p.version, field, relation: text, reasons, chain },
      },
    );
  }

  private whyNot(r: Relation): string {
    const rel = formatRelation(r);
    if (!qualifierOk(r, this.u.arch)) return `${rel}: architecture ${r.archQualifier} is not in the ${this.u.arch} universe`;
    const parts: string[] = [];
    const real = this.u.byName.get(r.name);
    if (real !== undefined) parts.push(`available version is ${real.version}`);
    const provs = this.u.providers.get(r.name) ?? [];
    for (const pv of provs.slice(0, 5)) {
      parts.push(
        pv.version === undefined
          ? `${pv.pkg.name} provides it unversioned`
          : `${pv.pkg.name} provides version ${pv.version}`,
      );
    }
    if (provs.length > 5) parts.push(`${provs.length - 5} more providers`);
    if (parts.length === 0) return `${rel}: no such package for ${this.u.arch}`;
    return `${rel}: ${parts.join(", ")}`;
  }

  conflicts(): string[] {
    const out: string[] = [];
    const names = [...this.selected.keys()].sort();
    for (const name of names) {
      const p = this.selected.get(name)!;
      for (const field of ["Conflicts", "Breaks"] as const) {
        for (const group of relationsOf(p, field, this.u.arch)) {
          for (const r of group) {
            if (!qualifierOk(r, this.u.arch)) continue;
            const hits: string[] = [];
            const t = this.selected.get(r.name);
            if (t !== undefined && t !== p && versionSatisfies(t.version, r.op, r.version)) {
              hits.push(`${t.name} ${t.version}`);
            }
            const viaProvides: string[] = [];
            for (const pv of this.provided.get(r.name) ?? []) {
              if (pv.pkg === p || pv.pkg === t) continue;
              if (versionSatisfies(pv.version, r.op, r.version)) viaProvides.push(`${pv.pkg.name} ${pv.pkg.version} (provides ${r.name})`);
            }
            hits.push(...viaProvides.sort());
            for (const h of hits) out.push(`${p.name} ${p.version} ${field}: ${formatRelation(r)}, but ${h} is selected`);
          }
        }
      }
    }
    return out;
  }
}

/**
 * The package set of the root filesystem: seeds (seedPackages) then the closure over
 * Pre-Depends and Depends (and Recommends when asked), processed breadth-first in seed
 * order, so the result depends only on the universe and the request.
 */
export function resolveRootfs(u: Universe, req: ResolveRequest): ResolvedSet {
  const r = new Resolver(u, req.mergedUsr ?? true, req.recommends ?? false);
  for (const s of seedPackages(u, req)) {
    const real = u.byName.get(s.name);
    if (real !== undefined) {
      r.select(real, s.why);
      continue;
    }
    // A virtual name in DEBIAN_PACKAGES: its preferred provider, as apt would pick.
    const c = r.candidate({ name: s.name });
    if (c) r.select(c.pkg, `provides ${s.name} (${s.why})`);
  }
  r.run();
  const names = [...r.selected.keys()].sort();
  const packages = names.map((n) => r.selected.get(n)!);
  const why = new Map<string, string>();
  for (const n of names) why.set(n, r.why.get(n)!);
  return { packages, why, warnings: r.conflicts() };
}

/**
 * What `kiln debian show` prints: one line per package, sorted by name,
 * `name version arch  <- why`; then one `warning: ...` line per Conflicts/Breaks found.
 */
export function explainResolution(set: ResolvedSet): string {
  const pkgs = [...set.packages].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const lines = pkgs.map((p) => `${p.name} ${p.version} ${p.arch}  <- ${set.why.get(p.name) ?? "?"}`);
  for (const w of set.warnings) lines.push(`warning: ${w}`);
  return lines.length === 0 ? "" : lines.join("\n") + "\n";
}
