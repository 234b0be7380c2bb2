/**
 * One virtual recipe per binary package, at microseconds each. The recipe every
 * package gets (`recipes/debian-package.bb`: `inherit debian-package`) is parsed
 * once with placeholder values; a package's recipe is a copy-on-write copy of that
 * DataStore with the package's own variables set (PER_PACKAGE), built only when a
 * task of it runs. Its index entry is derived from the template's by replacing the
 * placeholders, and its basehashes from the template's: a task's basehash is the
 * template's basehash of the task (everything common to all packages) hashed with
 * the values of the per-package variables the task depends on — so a change in the
 * class or configuration, or in one package's fields, changes exactly the hashes it
 * should, without hashing each package's whole task code again.
 */
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import {
  DependencyTable,
  dependencyContext,
  ParseSession,
  parseRecipeFile,
  recipeInfo,
  SIGGEN_VERSION,
  taskBasehashValues,
  type DataStore,
  type RecipeInfo,
  type VirtualRecipe,
} from "@kiln/core";
import { parseRelations, relationsForArch, versionSatisfies, type Alternatives } from "./relations.js";
import type { DebianPackage } from "./types.js";
import { parseDebVersion } from "./version.js";

export const TEMPLATE_RECIPE = fileURLToPath(new URL("../recipes/debian-package.bb", import.meta.url));

/** The variables a package sets on the template (everything else is shared). */
export const PER_PACKAGE = [
  "PN",
  "PE",
  "PV",
  "SUMMARY",
  "SECTION",
  "DEBIAN_PACKAGE",
  "DEBIAN_VERSION",
  "DEBIAN_PACKAGE_ARCH",
  "DEBIAN_FILENAME",
  "DEBIAN_SHA256",
  "DEBIAN_SIZE",
  "DEBIAN_PRIORITY",
  "DEBIAN_ESSENTIAL",
  "DEBIAN_MULTIARCH",
  "DEBIAN_SOURCE",
  "RDEPENDS",
  "RRECOMMENDS",
  "RPROVIDES",
] as const;
type PerPackageVar = (typeof PER_PACKAGE)[number];

const placeholder = (v: string) => `@@${v}@@`;

/** Where the synthesised recipes look up names when resolving alternatives. */
export interface PackageLookup {
  byName: Map<string, DebianPackage>;
  /** Virtual name -> providers (with the provided version, if versioned). */
  providers: Map<string, { pkg: DebianPackage; version?: string }[]>;
  arch: string;
}

const PRIORITY_RANK: Record<string, number> = { required: 0, important: 1, standard: 2, optional: 3, extra: 4 };

/**
 * A relationship field as RDEPENDS names: for each `a | b`, the first alternative a
 * package satisfies (itself, else the highest-priority provider, then by name); a
 * relation nothing satisfies is left out and reported in `unsatisfied` (the rootfs
 * resolver reports it when it matters; here it would fail every build that merely
 * sees the recipe).
 */
export function runtimeNames(field: string, where: string, u: PackageLookup, prefix: string, unsatisfied: string[]): string[] {
  if (!field) return [];
  const out: string[] = [];
  let rels: Alternatives[];
  try {
    rels = relationsForArch(parseRelations(field, where), u.arch);
  } catch (err) {
    unsatisfied.push(`${field} (${(err as Error).message})`);
    return [];
  }
  for (const alts of rels) {
    let chosen: string | undefined;
    for (const r of alts) {
      const real = u.byName.get(r.name);
      if (real && versionSatisfies(real.version, r.op, r.version)) {
        chosen = real.name;
        break;
      }
      const providers = (u.providers.get(r.name) ?? []).filter((p) => versionSatisfies(p.version, r.op, r.version));
      if (providers.length) {
        providers.sort((a, b) => (PRIORITY_RANK[a.pkg.priority] ?? 5) - (PRIORITY_RANK[b.pkg.priority] ?? 5) || (a.pkg.name < b.pkg.name ? -1 : a.pkg.name > b.pkg.name ? 1 : 0));
        chosen = providers[0].pkg.name;
        break;
      }
    }
    if (chosen) out.push(prefix + chosen);
    else unsatisfied.push(alts.map((r) => `${r.name}${r.op ? ` (${r.op} ${r.version})` : ""}`).join(" | "));
  }
  return [...new Set(out)];
}

/** `Provides` as names (versions dropped: RPROVIDES are names). */
export function providedNames(field: string): string[] {
  if (!field) return [];
  return field
    .split(",")
    .map((p) => p.trim().replace(/\s*\(.*$/, "").replace(/:\S+$/, ""))
    .filter(Boolean);
}

export class PackageTemplate {
  readonly d: DataStore;
  readonly info: RecipeInfo;
  /** Per task: the template's basehash and the per-package variables it depends on. */
  private readonly hashes = new Map<string, { base: string; vars: PerPackageVar[] }>();
  private readonly needsSubstitution: boolean;

  constructor(config: DataStore) {
    const d = parseRecipeFile(config.createCopy(), TEMPLATE_RECIPE, { session: new ParseSession() });
    for (const v of PER_PACKAGE) d.setVar(v, placeholder(v));
    this.d = d;
    this.info = recipeInfo(d, TEMPLATE_RECIPE, []);
    const ctx = dependencyContext(d);
    const table = new DependencyTable(ctx);
    const base = taskBasehashValues(d);
    const perPackage = new Set<string>(PER_PACKAGE);
    for (const t of this.info.tasks) {
      const vars = [...table.closure(t.name)].filter((v) => perPackage.has(v) && !ctx.ignored.has(v)).sort() as PerPackageVar[];
      this.hashes.set(t.name, { base: base.get(t.name) ?? "", vars });
    }
    this.needsSubstitution = JSON.stringify(this.info.tasks).includes("@@");
  }

  /** The template's own hash of everything shared (class, configuration): part of the cache key. */
  fingerprint(): string {
    return createHash("sha256")
      .update(JSON.stringify([...this.hashes].sort(([a], [b]) => (a < b ? -1 : 1))))
      .digest("hex");
  }

  basehashes(values: (v: PerPackageVar) => string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [task, { base, vars }] of this.hashes) {
      const h = createHash("sha256").update(`${SIGGEN_VERSION}\u0000debian-virtual\u0000${base}`);
      for (const v of vars) h.update(`\u0000${v}\u0000${values(v)}`);
      out[task] = h.digest("hex");
    }
    return out;
  }

  substitute(text: string, values: (v: PerPackageVar) => string): string {
    return text.includes("@@") ? text.replace(/@@([A-Z_]+)@@/g, (m, v: string) => ((PER_PACKAGE as readonly string[]).includes(v) ? values(v as PerPackageVar) : m)) : text;
  }

  tasksFor(values: (v: PerPackageVar) => string): RecipeInfo["tasks"] {
    if (!this.needsSubstitution) return this.info.tasks;
    return this.info.tasks.map((t) => ({ ...t, flags: Object.fromEntries(Object.entries(t.flags).map(([k, v]) => [k, this.substitute(v, values)])) }));
  }
}

/** The package's values of PER_PACKAGE, RDEPENDS & co. computed on first use. */
function packageValues(p: DebianPackage, prefix: string, u: PackageLookup): { get: (v: PerPackageVar) => string; unsatisfied: () => string[] } {
  const { epoch } = parseDebVersion(p.version);
  const unsatisfied: string[] = [];
  let rdepends: string | undefined;
  let rrecommends: string | undefined;
  const rdeps = () =>
    (rdepends ??= [
      ...runtimeNames(p.preDepends, `${p.name} Pre-Depends`, u, prefix, unsatisfied),
      ...runtimeNames(p.depends, `${p.name} Depends`, u, prefix, unsatisfied),
    ]
      .filter((n, i, all) => all.indexOf(n) === i)
      .join(" "));
  const rrecs = () => (rrecommends ??= runtimeNames(p.recommends, `${p.name} Recommends`, u, prefix, []).join(" "));
  const get = (v: PerPackageVar): string => {
    switch (v) {
      case "PN":
        return prefix + p.name;
      case "PE":
        return epoch ? String(epoch) : "";
      case "PV":
        return p.version.replace(/^\d+:/, "");
      case "SUMMARY":
        // a literal, never expanded: no `${` may survive into the DataStore
        return p.summary.replace(/\$\{/g, "$ {");
      case "SECTION":
        return p.section;
      case "DEBIAN_PACKAGE":
        return p.name;
      case "DEBIAN_VERSION":
        return p.version;
      case "DEBIAN_PACKAGE_ARCH":
        return p.arch;
      case "DEBIAN_FILENAME":
        return p.filename;
      case "DEBIAN_SHA256":
        return p.sha256;
      case "DEBIAN_SIZE":
        return String(p.size);
      case "DEBIAN_PRIORITY":
        return p.priority;
      case "DEBIAN_ESSENTIAL":
        return p.essential ? "yes" : "";
      case "DEBIAN_MULTIARCH":
        return p.multiArch;
      case "DEBIAN_SOURCE":
        return p.source;
      case "RDEPENDS":
        return rdeps();
      case "RRECOMMENDS":
        return rrecs();
      case "RPROVIDES":
        return providedNames(p.provides)
          .map((n) => prefix + n)
          .join(" ");
    }
  };
  return {
    get,
    unsatisfied: () => {
      rdeps();
      return unsatisfied;
    },
  };
}

export const virtualFile = (suite: string, name: string) => `virtual:debian:${suite}:${name}`;

/** The virtual recipe of one package. */
export function packageRecipe(p: DebianPackage, t: PackageTemplate, prefix: string, suite: string, u: PackageLookup): VirtualRecipe & { unsatisfied(): string[] } {
  const values = packageValues(p, prefix, u);
  const v = values.get;
  const tpl = t.info;
  const pn = v("PN");
  const words = (s: string) => s.split(" ").filter(Boolean);
  let basehashes: Record<string, string> | undefined;
  const info: RecipeInfo = {
    ...tpl,
    file: virtualFile(suite, p.name),
    appends: [],
    pn,
    pe: v("PE"),
    pv: v("PV"),
    provides: [pn],
    depends: [],
    packages: [pn],
    // runtime relations and hashes only when the task graph reaches the recipe
    get rdepends() {
      const names = words(v("RDEPENDS"));
      return names.length ? { [pn]: names } : {};
    },
    get rrecommends() {
      const names = words(v("RRECOMMENDS"));
      return names.length ? { [pn]: names } : {};
    },
    rprovides: p.provides ? { [pn]: words(v("RPROVIDES")) } : {},
    stamp: t.substitute(tpl.stamp, v),
    tasks: t.tasksFor(v),
    get basehashes() {
      return (basehashes ??= t.basehashes(v));
    },
    indexVars: Object.fromEntries(Object.entries(tpl.indexVars ?? {}).map(([k, x]) => [k, t.substitute(x, v)])),
    checksumFiles: {},
    virtual: true,
  };
  return {
    info,
    materialize(): DataStore {
      const d = t.d.createCopy();
      for (const name of PER_PACKAGE) d.setVar(name, v(name));
      d.setVar("DEBIAN_UNSATISFIED", values.unsatisfied().join(", "));
      return d;
    },
    unsatisfied: values.unsatisfied,
  };
}
