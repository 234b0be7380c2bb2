import { KilnError } from "../errors.js";

/**
 * Dependency lists as BitBake reads them (bb.utils.explode_deps): whitespace-
 * separated names, each optionally followed by a version constraint in
 * parentheses — `a (>= 1.0) b` names `a` and `b`.
 */
export function explodeDeps(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  const out: string[] = [];
  let inVersion = false;
  for (const word of String(value).split(/\s+/)) {
    if (!word) continue;
    if (inVersion) {
      if (word.endsWith(")")) inVersion = false;
      continue;
    }
    if (word.startsWith("(")) {
      inVersion = !word.endsWith(")");
      continue;
    }
    out.push(word);
  }
  return out;
}

/**
 * bb.utils.explode_dep_versions2: each name with its version constraints
 * (`a (>= 1.0) b` → a: [">= 1.0"], b: []), in the order first named. A constraint
 * without a name before it, or an unclosed `(`, is an error naming the list.
 */
export function explodeDepVersions(value: unknown): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const text = value === undefined || value === null ? "" : String(value);
  const re = /\s*([^\s(]+)?\s*(?:\(([^)]*)\)|(\([^)]*$))?/gy;
  let last: string | undefined;
  for (let m = re.exec(text); m && m[0]; m = re.exec(text)) {
    if (m[3] !== undefined) throw new KilnError("PARSE_ERROR", `unclosed version constraint in dependency list '${text}'`);
    if (m[1]) {
      last = m[1];
      if (!out.has(last)) out.set(last, []);
    }
    if (m[2] !== undefined) {
      if (!last) throw new KilnError("PARSE_ERROR", `version constraint without a name in dependency list '${text}'`);
      const c = m[2].trim().replace(/^([<>=!]+)\s*/, "$1 ");
      out.get(last)?.push(c);
    }
  }
  return out;
}
