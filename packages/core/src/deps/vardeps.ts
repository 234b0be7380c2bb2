/**
 * Variable and function dependencies (BitBake's bb.data.build_dependencies and
 * generate_dependencies): for each variable, the variables and functions its value
 * reads and the value that goes into hashes.
 *
 * - plain values: `${VAR}` references, and what `${@...}` code reads (jsDeps);
 * - shell functions: the expanded body parsed for commands naming metadata functions,
 *   its `${VAR}` references, and every exported variable;
 * - JS functions: `d.getVar('X')`-style reads and calls of metadata functions;
 * - `[vardeps]` adds, `[vardepsexclude]` removes, `[vardepvalue]` replaces the value
 *   (and its analysis), `[vardepvalueexclude]` cuts `|`-separated strings out of it;
 *   `[prefuncs]`/`[postfuncs]`/`[exports]` of functions are dependencies;
 * - every other flag `X[f]` is a dependency unless listed in BB_SIGNATURE_EXCLUDE_FLAGS;
 * - names in BB_BASEHASH_IGNORE_VARS are never dependencies;
 * - `contains`-style reads hash only whether the item is present (BitBake's handle_contains).
 */
import type { DataStore, Expansion } from "../data/datastore.js";
import { jsDeps } from "./js.js";
import { shellExecs, type CodeDeps } from "./shell.js";

export interface DependencyContext {
  d: DataStore;
  /** Every variable name (without `__` internals): execs only count when they name one. */
  keys: Set<string>;
  /** Exported (and not unexported) variables: dependencies of every shell function. */
  shellExports: Set<string>;
  ignored: Set<string>;
  /** BB_SIGNATURE_EXCLUDE_FLAGS; null when unset (then flags are no dependencies, as BitBake). */
  excludeFlags: Set<string> | null;
  /** Dependencies that could not be determined (debug output, as BitBake's). */
  debug?: (message: string) => void;
}

export interface VarDependency {
  deps: Set<string>;
  /** What the hash sees for this variable (unexpanded value and annotations); null when unset. */
  value: string | null;
}

const words = (v: unknown) => (v === undefined || v === null ? [] : String(v).split(/\s+/).filter(Boolean));
const truthy = (v: unknown) => v !== undefined && v !== null && v !== "" && v !== "0" && v !== 0 && v !== false;

export function dependencyContext(d: DataStore, debug?: (m: string) => void): DependencyContext {
  const keys = new Set<string>();
  const shellExports = new Set<string>();
  for (const k of d.keys()) {
    if (k.startsWith("__")) continue;
    keys.add(k);
    if (truthy(d.getVarFlag(k, "export", false)) && !truthy(d.getVarFlag(k, "unexport", false))) shellExports.add(k);
  }
  const excl = d.getVar("BB_SIGNATURE_EXCLUDE_FLAGS");
  return {
    d,
    keys,
    shellExports,
    ignored: new Set(words(d.getVar("BB_BASEHASH_IGNORE_VARS"))),
    excludeFlags: excl ? new Set(words(excl)) : null,
    debug,
  };
}

/** BitBake's handle_contains: the value plus, per `contains` read, whether each item is set. */
function withContains(value: string, contains: Map<string, Set<string>>, exclusions: Set<string>, ctx: DependencyContext): string {
  const out = [value];
  for (const k of [...contains.keys()].sort()) {
    if (exclusions.has(k) || ctx.ignored.has(k)) continue;
    const present = new Set(words(ctx.d.getVar(k)));
    for (const item of [...(contains.get(k) as Set<string>)].sort()) {
      const set = words(item).every((w) => present.has(w));
      out.push(`\n${k}{${item}} = ${set ? "Set" : "Unset"}`);
    }
  }
  return out.join("");
}

/** Fold what `${@...}` code in an expansion reads into `deps`/`contains`. */
function inlineDeps(exp: Expansion, ctx: DependencyContext, deps: Set<string>, contains: Map<string, Set<string>>): void {
  for (const code of exp.inline ?? []) {
    const js = jsDeps(code, true);
    for (const v of js.vars) deps.add(v);
    for (const e of js.execs) if (ctx.keys.has(e)) deps.add(e);
    mergeContains(contains, js.contains);
    for (const u of js.unknown) ctx.debug?.(`${u} (in \${@${code.trim()}})`);
  }
}

function mergeContains(into: Map<string, Set<string>>, from: Map<string, Set<string>>): void {
  for (const [k, items] of from) {
    const set = into.get(k) ?? new Set<string>();
    for (const i of items) set.add(i);
    into.set(k, set);
  }
}

function jsCodeDeps(key: string, code: string, ctx: DependencyContext): CodeDeps {
  const deps = jsDeps(code);
  for (const u of deps.unknown) ctx.debug?.(`${key}: ${u}`);
  return deps;
}

/** One variable's direct dependencies and hashed value (`X[flag]` names a flag). */
export function buildDependencies(key: string, ctx: DependencyContext): VarDependency {
  const { d } = ctx;
  const deps = new Set<string>();
  const contains = new Map<string, Set<string>>();

  const flagRef = /^(.+)\[([^\]]+)\]$/.exec(key);
  if (flagRef) {
    const [, name, flag] = flagRef;
    if (flag === "vardepvalueexclude") return { deps, value: "" };
    const exp = d.parseVarFlag(name, flag);
    for (const r of exp.references) deps.add(r);
    inlineDeps(exp, ctx, deps, contains);
    for (const i of ctx.ignored) deps.delete(i);
    return { deps, value: exp.value === undefined || exp.value === null ? null : String(exp.value) };
  }

  const flags = d.getVarFlags(key, ["vardeps", "vardepvalue", "vardepsexclude", "exports", "postfuncs", "prefuncs"]) ?? {};
  const exclusions = new Set(words(flags.vardepsexclude));
  let value: string | null;
  if ("vardepvalue" in flags) {
    value = String(flags.vardepvalue ?? "");
  } else if (truthy(flags.func)) {
    const exp = d.parseVarFlag(key);
    value = exp.value === undefined || exp.value === null ? null : String(exp.value);
    if (truthy(flags.js)) {
      const js = jsCodeDeps(key, value ?? "", ctx);
      for (const v of js.vars) deps.add(v);
      for (const e of js.execs) if (ctx.keys.has(e)) deps.add(e);
      mergeContains(contains, js.contains);
    } else {
      const sh = shellExecs(value ?? "", String(exp.expanded ?? ""), (name) => {
        const v = d.getVar(name);
        return v === undefined || v === null ? undefined : String(v);
      });
      const execs = sh.execs;
      // BitBake logs these at debug level unless [vardeps] says the author knows
      if (!flags.vardeps) for (const u of sh.unknown) ctx.debug?.(`${key}: ${u}`);
      for (const v of ctx.shellExports) deps.add(v);
      for (const r of exp.references) deps.add(r);
      for (const e of execs) if (ctx.keys.has(e)) deps.add(e);
      inlineDeps(exp, ctx, deps, contains);
      value = handleRemoves(value, exp, ctx, deps, contains);
    }
    value = withContains(value ?? "", contains, exclusions, ctx);
    for (const f of ["prefuncs", "postfuncs", "exports"]) for (const w of words(flags[f])) deps.add(w);
  } else {
    const exp = d.parseVarFlag(key);
    value = exp.value === undefined || exp.value === null ? null : String(exp.value);
    for (const r of exp.references) deps.add(r);
    inlineDeps(exp, ctx, deps, contains);
    if (value !== null) value = withContains(handleRemoves(value, exp, ctx, deps, contains) ?? "", contains, exclusions, ctx);
  }

  if (value !== null && "vardepvalueexclude" in flags) {
    for (const excl of String(flags.vardepvalueexclude ?? "").split("|")) if (excl) value = value.split(excl).join("");
  }
  if (ctx.excludeFlags) {
    for (const f of Object.keys(flags)) if (!ctx.excludeFlags.has(f)) deps.add(`${key}[${f}]`);
  }
  for (const w of words(flags.vardeps)) deps.add(w);
  for (const w of exclusions) deps.delete(w);
  for (const i of ctx.ignored) deps.delete(i);
  deps.delete(key);
  return { deps, value };
}

/** BitBake's handle_remove: each `:remove` that took effect is part of the value, its references dependencies. */
function handleRemoves(value: string | null, exp: Expansion, ctx: DependencyContext, deps: Set<string>, contains: Map<string, Set<string>>): string | null {
  if (!exp.removes?.size) return value;
  let out = value ?? "";
  for (const r of [...exp.removes].map(String).sort()) {
    const rexp = ctx.d.expandWithRefs(r);
    out += `\n_remove of ${r}`;
    for (const ref of rexp.references) deps.add(ref);
    inlineDeps(rexp, ctx, deps, contains);
  }
  return out;
}

/** Direct dependencies of many variables, computed once each (BitBake's gendeps + lookupcache). */
export class DependencyTable {
  readonly deps = new Map<string, Set<string>>();
  readonly values = new Map<string, string | null>();
  constructor(readonly ctx: DependencyContext) {}

  get(key: string): VarDependency {
    let deps = this.deps.get(key);
    if (!deps) {
      const r = buildDependencies(key, this.ctx);
      deps = r.deps;
      this.deps.set(key, deps);
      this.values.set(key, r.value);
    }
    return { deps, value: this.values.get(key) ?? null };
  }

  /** Everything `key` depends on, transitively (not `key` itself unless it loops back). */
  closure(key: string): Set<string> {
    const seen = new Set<string>();
    let next = new Set(this.get(key).deps);
    while (next.size) {
      const current = next;
      next = new Set();
      for (const dep of current) {
        if (seen.has(dep)) continue;
        seen.add(dep);
        if (this.ctx.ignored.has(dep)) continue;
        for (const n of this.get(dep).deps) if (!seen.has(n)) next.add(n);
      }
    }
    return seen;
  }
}

/** The full set of variables and functions `name` (a variable or task) depends on. */
export function varDeps(d: DataStore, name: string): Set<string> {
  return new DependencyTable(dependencyContext(d)).closure(name);
}
