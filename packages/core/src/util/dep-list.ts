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
