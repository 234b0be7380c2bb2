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
import { hash } from "node:crypto";
import { fileURLToPath } from "node:url";
import {
  DependencyTable,
  dependencyContext,
  ParseSession,
  parseRecipeFile,
  recipeInfo,
  SIGGEN_VERSION,
  basehashOnly,
  basehashDetailsOf,
  type BasehashDetails,
  type DataStore,
  type ProviderIndex,
  type RecipeInfo,
  type VirtualRecipe,
  type VirtualRecipeGroup,
} from "@kiln/core";
import { parseRelations, relationsForArch, versionSatisfies, type Alternatives } from "./relations.js";
import type { DebianPackage } from "./types.js";
import type { Universe } from "./resolve.js";

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
/** Where an index-vars object keeps its package's values (a symbol: not one of the variables). */
const VALUES = Symbol("values");

/** Where the synthesised recipes look up names when resolving alternatives: the suite's universe. */
export type PackageLookup = Universe;

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
    // one dependency analysis of the template gives each task's hash and closure
    const ctx = dependencyContext(d);
    const table = new DependencyTable(ctx);
    const perPackage = new Set<string>(PER_PACKAGE);
    for (const t of this.info.tasks) {
      const vars = [...table.closure(t.name)].filter((v) => perPackage.has(v) && !ctx.ignored.has(v)).sort() as PerPackageVar[];
      this.hashes.set(t.name, { base: basehashOnly(t.name, table), vars });
    }
    this.needsSubstitution = JSON.stringify(this.info.tasks).includes("@@");
  }

  /** The template's own basehash details per task (its siginfo's dependencies and values), worked out on first use. */
  private templateDetails?: (task: string) => BasehashDetails | undefined;

  /**
   * A package's basehash details for `task`: the template's dependencies, with the
   * package's values in place of the placeholders, and the package's basehash — what
   * analysing the materialised recipe again would record, without doing it per task.
   */
  detailsFor(task: string, values: (v: PerPackageVar) => string, basehash: string): BasehashDetails | undefined {
    const own = (this.templateDetails ??= basehashDetailsOf(this.d))(task);
    if (!own) return undefined;
    const varvals: Record<string, string | null> = {};
    for (const [k, v] of Object.entries(own.varvals)) varvals[k] = v === null ? null : this.substitute(v, values);
    return { ...own, basehash, varvals };
  }

  basehashes(values: (v: PerPackageVar) => string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [task, { base, vars }] of this.hashes) {
      let text = `${SIGGEN_VERSION}\u0000debian-virtual\u0000${base}`;
      for (const v of vars) text += `\u0000${v}\u0000${values(v)}`;
      out[task] = hash("sha256", text);
    }
    return out;
  }

  /** The template's STAMP cut at its placeholders once (literal text and the variables between): a package's is a join. */
  private stampParts: { text: string; v?: PerPackageVar }[] | undefined;
  stampFor(values: (v: PerPackageVar) => string): string {
    const parts = (this.stampParts ??= this.info.stamp
      .split(/@@([A-Z0-9_]+)@@/)
      .map((text, i) => (i % 2 && (PER_PACKAGE as readonly string[]).includes(text) ? { text: "", v: text as PerPackageVar } : { text: i % 2 ? `@@${text}@@` : text })));
    let out = "";
    for (const part of parts) out += part.v ? values(part.v) : part.text;
    return out;
  }

  /**
   * KILN_INDEX_VARS values: the template's own object when none holds a placeholder;
   * else an object whose prototype has the shared values and, for the others, getters
   * substituting this package's values when read (plugins read one or two of them).
   */
  private indexProto: object | undefined;
  indexVarsFor(values: (v: PerPackageVar) => string): Record<string, string> {
    const vars = this.info.indexVars ?? {};
    if (!Object.values(vars).some((x) => x.includes("@@"))) return vars;
    if (!this.indexProto) {
      const proto: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(vars)) {
        if (!x.includes("@@")) proto[k] = x;
        else {
          const template = this;
          Object.defineProperty(proto, k, {
            enumerable: true,
            get(this: { [VALUES]: (v: PerPackageVar) => string }) {
              return template.substitute(x, this[VALUES]);
            },
          });
        }
      }
      this.indexProto = proto;
    }
    return Object.assign(Object.create(this.indexProto) as Record<string, string>, { [VALUES]: values }) as Record<string, string>;
  }

  /** STAMP with the package's values in place of the placeholders. */

  substitute(text: string, values: (v: PerPackageVar) => string): string {
    return text.includes("@@") ? text.replace(/@@([A-Z0-9_]+)@@/g, (m, v: string) => ((PER_PACKAGE as readonly string[]).includes(v) ? values(v as PerPackageVar) : m)) : text;
  }

  tasksFor(values: (v: PerPackageVar) => string): RecipeInfo["tasks"] {
    if (!this.needsSubstitution) return this.info.tasks;
    return this.info.tasks.map((t) => ({ ...t, flags: Object.fromEntries(Object.entries(t.flags).map(([k, v]) => [k, this.substitute(v, values)])) }));
  }
}

interface PackageValues {
  get: (v: PerPackageVar) => string;
  unsatisfied: () => string[];
}

/** The package's values of PER_PACKAGE, RDEPENDS & co. computed on first use. */
function packageValues(p: DebianPackage, prefix: string, u: PackageLookup): PackageValues {
  // the epoch only (the version was checked when the index was read)
  const colon = p.version.indexOf(":");
  const epoch = colon > 0 ? Number(p.version.slice(0, colon)) : 0;
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
        return colon > 0 ? p.version.slice(colon + 1) : p.version;
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

const NONE: readonly never[] = Object.freeze([]);
const EMPTY = Object.freeze({});

/**
 * A package's index entry: a class, so 60,000 of them share one shape and their
 * getters (runtime relations and basehashes, computed only for the recipes a task
 * graph reaches) live on the prototype instead of in every object.
 */
class VirtualInfo {
  readonly file: string;
  readonly pn: string;
  readonly appends = NONE as unknown as string[];
  readonly depends = NONE as unknown as string[];
  readonly packagesDynamic = NONE as unknown as string[];
  readonly checksumFiles = EMPTY as Record<string, never>;
  readonly virtual = true;
  readonly group: SuiteRecipes;
  /** Made when a value is first worked out: most of a suite's recipes never need one. */
  private memoized?: { values?: PackageValues; hashes?: Record<string, string>; vars?: Record<string, string>; stamp?: string; rprovides?: Record<string, string[]> };
  private get memo(): NonNullable<VirtualInfo["memoized"]> {
    return (this.memoized ??= {});
  }

  constructor(
    private readonly t: PackageTemplate,
    private readonly p: DebianPackage,
    private readonly prefix: string,
    private readonly u: PackageLookup,
    file: string,
    group: SuiteRecipes,
  ) {
    this.file = file;
    this.pn = prefix + p.name;
    this.group = group;
  }

  /** Its suite answers provider lookups for it (core's RecipeInfo.providerIndex). */
  get providerIndex(): ProviderIndex {
    return this.group;
  }

  /** The package's values, worked out when a field other than file/pn is first read. */
  get values(): PackageValues {
    return (this.memo.values ??= packageValues(this.p, this.prefix, this.u));
  }
  private get v(): (name: PerPackageVar) => string {
    return this.values.get;
  }
  get pe(): string {
    return this.v("PE");
  }
  get pv(): string {
    return this.v("PV");
  }
  get pr(): string {
    return this.t.info.pr;
  }
  get provides(): string[] {
    return [this.pn];
  }
  get packages(): string[] {
    return [this.pn];
  }
  get rprovides(): Record<string, string[]> {
    if (!this.memo.rprovides) {
      // straight from the field: Providers reads this for every package, and working out
      // all of a package's values for it cost ~40 ms over a suite
      const names = providedNames(this.p.provides).map((n) => this.prefix + n);
      this.memo.rprovides = names.length ? { [this.pn]: names } : (EMPTY as Record<string, string[]>);
    }
    return this.memo.rprovides;
  }
  get defaultPreference(): number {
    return this.t.info.defaultPreference;
  }
  get excludeFromWorld(): boolean {
    return this.t.info.excludeFromWorld;
  }
  get stamp(): string {
    return (this.memo.stamp ??= this.t.stampFor(this.v));
  }
  get tasks(): RecipeInfo["tasks"] {
    return this.t.tasksFor(this.v);
  }
  get indexVars(): Record<string, string> {
    return (this.memo.vars ??= this.t.indexVarsFor(this.v));
  }
  get rdepends(): Record<string, string[]> {
    const names = this.v("RDEPENDS");
    return names ? { [this.pn]: names.split(" ") } : {};
  }
  get rrecommends(): Record<string, string[]> {
    const names = this.v("RRECOMMENDS");
    return names ? { [this.pn]: names.split(" ") } : {};
  }
  get basehashes(): Record<string, string> {
    return (this.memo.hashes ??= this.t.basehashes(this.v));
  }

  /** The index entry is its own VirtualRecipe (one object per package, not three). */
  get info(): RecipeInfo {
    return this as unknown as RecipeInfo;
  }

  basehashDetails(task: string): BasehashDetails | undefined {
    return this.t.detailsFor(task, this.v, this.basehashes[task] ?? "");
  }

  materialize(): DataStore {
    const d = this.t.d.createCopy();
    for (const name of PER_PACKAGE) d.setVar(name, this.values.get(name));
    d.setVar("DEBIAN_UNSATISFIED", this.values.unsatisfied().join(", "));
    return d;
  }
}

const RECIPE_OF = Symbol("kiln:debian recipe");

/**
 * A suite's virtual recipes as one group (core's VirtualRecipeGroup): each package's
 * recipe is made when first looked up, by PN (prefix + package name) or file
 * (`virtual:debian:<suite>:<name>`), and kept on its package record. A build makes the
 * hundred it needs; making all 60,000 cost ~0.1 s of every start. The group is also
 * their provider index (core's ProviderIndex): a recipe's PN, PROVIDES and only package
 * are prefix + its package name; its RPROVIDES are the names its Provides list, which
 * the universe's `providers` map (name -> the packages providing it) answers.
 */
export class SuiteRecipes implements VirtualRecipeGroup, ProviderIndex {
  private readonly fileStart: string;

  constructor(
    private readonly t: PackageTemplate,
    private readonly prefix: string,
    private readonly suite: string,
    private readonly u: PackageLookup,
  ) {
    this.fileStart = virtualFile(suite, "");
  }

  get size(): number {
    return this.u.byName.size;
  }

  get providerIndex(): ProviderIndex {
    return this;
  }

  /** The recipe of package `name` of this suite's universe, made once. */
  private recipe(name: string): VirtualInfo | undefined {
    const p = this.u.byName.get(name);
    return p && this.recipeOf(p);
  }

  private recipeOf(pkg: DebianPackage): VirtualInfo {
    const p = pkg as DebianPackage & { [RECIPE_OF]?: VirtualInfo };
    const made = p[RECIPE_OF];
    // (a package record another parse's group made a recipe for gets one of this group's)
    if (made?.group === this) return made;
    return (p[RECIPE_OF] = new VirtualInfo(this.t, p, this.prefix, this.u, virtualFile(this.suite, p.name), this));
  }

  private plain(name: string): string | undefined {
    return name.startsWith(this.prefix) ? name.slice(this.prefix.length) : undefined;
  }

  byPn(pn: string): VirtualRecipe | undefined {
    const plain = this.plain(pn);
    return plain === undefined ? undefined : this.recipe(plain);
  }

  byFile(file: string): VirtualRecipe | undefined {
    return file.startsWith(this.fileStart) ? this.recipe(file.slice(this.fileStart.length)) : undefined;
  }

  *all(): Iterable<VirtualRecipe> {
    // by record, not by name: a cached universe finds a name by binary search
    for (const p of this.u.byName.values()) yield this.recipeOf(p);
  }

  build(name: string): readonly RecipeInfo[] {
    const r = this.byPn(name);
    return r ? [r.info] : NONE;
  }

  packageOwners(name: string): readonly RecipeInfo[] {
    return this.build(name);
  }

  runtime(name: string): readonly RecipeInfo[] {
    const plain = this.plain(name);
    if (plain === undefined) return NONE;
    const out = [...this.build(name)];
    for (const { pkg } of this.u.providers.get(plain) ?? NONE) {
      const info = this.recipe(pkg.name)?.info;
      if (info && !out.includes(info)) out.push(info);
    }
    return out;
  }
}

