/**
 * Relationship fields (Depends, Pre-Depends, Recommends, Provides, Conflicts, Breaks)
 * as Debian Policy 7.1 and dpkg read them: `a (>= 1.0) | b:any, c [!amd64], d <stage1>`.
 * Parsed once at the edge into typed relations so the resolver never re-reads strings.
 */
import { KilnError } from "@kiln/core";
import { compareDebVersions, parseDebVersion } from "./version.js";

export type RelationOp = "<<" | "<=" | "=" | ">=" | ">>";

export interface Relation {
  name: string;
  /** After `:`: "any", "native" or an architecture (Multi-Arch). */
  archQualifier?: string;
  op?: RelationOp;
  version?: string;
  /** `[amd64 !i386]` as written: all plain or all negated with `!`. */
  archRestrictions?: string[];
}

/** `a | b`: any one of them satisfies the dependency. */
export type Alternatives = Relation[];

/**
 * One relation: name, optional `:qualifier`, optional `(op version)`, optional
 * `[arch list]`, then any number of build-profile `<...>` lists (parsed, then ignored:
 * they only matter when building from source). dpkg's deprecated `<` and `>` mean
 * `<=` and `>=`, and `(1.0)` without an operator means `=`.
 */
const RELATION =
  /^\s*([A-Za-z0-9][A-Za-z0-9+.\-_]*)(?::([A-Za-z0-9][A-Za-z0-9-]*))?\s*(?:\(\s*(<<|<=|>=|>>|=|<|>)?\s*([^\s()]+)\s*\))?\s*(?:\[([^\]]*)\])?\s*(?:<[^<>]*>\s*)*$/;

const ARCH = /^!?[A-Za-z0-9][A-Za-z0-9-]*$/;

function malformed(where: string | undefined, text: string, reason: string, field: string): KilnError {
  const at = where ? `${where}: ` : "";
  return new KilnError("PARSE_ERROR", `${at}malformed relation '${text.trim()}': ${reason}`, {
    hint: "relations are `name[:arch] [(op version)] [[arch ...]]`, separated by `,` and `|` (Debian Policy 7.1)",
    details: { where, relation: text.trim(), field },
  });
}

function parseRelation(text: string, where: string | undefined, field: string): Relation {
  const m = RELATION.exec(text);
  if (!m) {
    const reason = /^\s*$/.test(text) ? "empty relation" : "expected name[:arch] [(op version)] [[arch ...]]";
    throw malformed(where, text, reason, field);
  }
  const [, name, archQualifier, rawOp, version, archList] = m;
  const rel: Relation = { name };
  if (archQualifier !== undefined) rel.archQualifier = archQualifier;
  if (version !== undefined) {
    rel.op = rawOp === "<" ? "<=" : rawOp === ">" ? ">=" : ((rawOp ?? "=") as RelationOp);
    try {
      parseDebVersion(version);
    } catch (e) {
      throw malformed(where, text, e instanceof Error ? e.message : String(e), field);
    }
    rel.version = version;
  }
  if (archList !== undefined) {
    const arches = archList.split(/\s+/).filter(Boolean);
    if (!arches.length) throw malformed(where, text, "empty architecture list", field);
    const bad = arches.find((a) => !ARCH.test(a));
    if (bad) throw malformed(where, text, `bad architecture '${bad}'`, field);
    const negated = arches.filter((a) => a.startsWith("!")).length;
    if (negated && negated !== arches.length) {
      throw malformed(where, text, "architecture list mixes negated and plain architectures", field);
    }
    rel.archRestrictions = arches;
  }
  return rel;
}

/**
 * Parse a whole relationship field. Whitespace and continuation newlines anywhere
 * between tokens are fine; an empty field is no relations; a trailing `,` is tolerated
 * (debian/control files have them), an empty element elsewhere is an error.
 * `where` (e.g. "libc6 Depends") names the field in error messages.
 */
export function parseRelations(field: string, where?: string): Alternatives[] {
  const out: Alternatives[] = [];
  const groups = field.split(",");
  for (let i = 0; i < groups.length; i++) {
    const group = groups[i];
    if (/^\s*$/.test(group)) {
      if (i === groups.length - 1) continue;
      throw malformed(where, field, "empty element between commas", field);
    }
    out.push(group.split("|").map((alt) => parseRelation(alt, where, field)));
  }
  return out;
}

/** os and cpu of a Debian architecture name, enough for `linux-any` / `any-amd64`. */
function archTuple(arch: string): [os: string, cpu: string] {
  const dash = arch.indexOf("-");
  const [os, cpu] = dash < 0 ? ["linux", arch] : [arch.slice(0, dash), arch.slice(dash + 1)];
  // dpkg's cputable folds these ABIs onto their CPU.
  const folded: Record<string, string> = { armel: "arm", armhf: "arm", x32: "amd64" };
  return [os, folded[cpu] ?? cpu];
}

/** Whether `pattern` (an architecture or a wildcard like `any`, `linux-any`, `any-i386`) covers `arch`. */
export function archMatches(arch: string, pattern: string): boolean {
  if (pattern === arch || pattern === "any") return true;
  const dash = pattern.indexOf("-");
  if (dash < 0) return false;
  const [os, cpu] = archTuple(arch);
  const [pOs, pCpu] = [pattern.slice(0, dash), pattern.slice(dash + 1)];
  return (pOs === "any" || pOs === os) && (pCpu === "any" || pCpu === cpu) && (pOs === "any" || pCpu === "any");
}

/** Whether a relation's `[arch ...]` list lets it apply on `arch`. */
export function relationAppliesTo(r: Relation, arch: string): boolean {
  const list = r.archRestrictions;
  if (!list?.length) return true;
  if (list[0].startsWith("!")) return !list.some((a) => archMatches(arch, a.slice(1)));
  return list.some((a) => archMatches(arch, a));
}

/**
 * The relations that apply on `arch`: relations whose `[...]` list excludes it are
 * dropped, and so is a dependency whose alternatives are all dropped (Policy 7.1: it is
 * as if it were not there).
 */
export function relationsForArch(rels: Alternatives[], arch: string): Alternatives[] {
  const out: Alternatives[] = [];
  for (const alts of rels) {
    const kept = alts.filter((r) => relationAppliesTo(r, arch));
    if (kept.length) out.push(kept);
  }
  return out;
}

/**
 * Whether `version` satisfies `op want`. No operator: anything does. An operator but
 * no version (an unversioned Provides): never, as dpkg and apt rule.
 */
export function versionSatisfies(version: string | undefined, op: RelationOp | undefined, want: string | undefined): boolean {
  if (op === undefined || want === undefined) return true;
  if (version === undefined) return false;
  const c = compareDebVersions(version, want);
  switch (op) {
    case "<<":
      return c < 0;
    case "<=":
      return c <= 0;
    case "=":
      return c === 0;
    case ">=":
      return c >= 0;
    case ">>":
      return c > 0;
  }
}

/** `name:qual (op version) [archs]`, for messages. */
export function formatRelation(r: Relation): string {
  let s = r.archQualifier ? `${r.name}:${r.archQualifier}` : r.name;
  if (r.op && r.version !== undefined) s += ` (${r.op} ${r.version})`;
  if (r.archRestrictions?.length) s += ` [${r.archRestrictions.join(" ")}]`;
  return s;
}

/** A parsed field back to its text: `a | b, c`. */
export function formatRelations(rels: Alternatives[]): string {
  return rels.map((alts) => alts.map(formatRelation).join(" | ")).join(", ");
}
