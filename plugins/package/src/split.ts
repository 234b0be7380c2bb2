/**
 * Splitting a tree into packages as OpenEmbedded's populate_packages does: packages
 * in PACKAGES order, each claiming what its FILES patterns match (shell globs
 * relative to the tree's root; a matched directory brings everything below it);
 * a path already claimed by an earlier package is skipped.
 */
import { walkTree } from "./tree.js";

export interface TreeEntry {
  /** Path relative to the root, without a leading slash. */
  rel: string;
  isDir: boolean;
}

/** Every entry under `root`, parents before children, sorted. */
export function listTree(root: string): TreeEntry[] {
  return walkTree(root).map((e) => ({ rel: e.rel, isDir: e.stat.isDirectory() }));
}

/** A FILES pattern as a regular expression over relative paths (glob: `*` and `?` stop at `/`, `**` crosses it). */
export function globRegExp(pattern: string): RegExp {
  const p = pattern.replace(/^\/+/, "").replace(/\/+$/, "");
  let re = "";
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === "*" && p[i + 1] === "*") {
      re += ".*";
      i++;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = p.indexOf("]", i + 2);
      if (end < 0) re += "\\[";
      else {
        re += `[${p.slice(i + 1, end).replace(/^!/, "^").replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

export interface SplitResult {
  /** Package → the entries it claimed (relative paths). */
  packages: Map<string, string[]>;
  /** Files (not directories) no package claimed. */
  unshipped: string[];
}

export function splitTree(entries: TreeEntry[], packages: { name: string; patterns: string[] }[]): SplitResult {
  const claimed = new Set<string>();
  const result = new Map<string, string[]>();
  for (const pkg of packages) {
    const mine: string[] = [];
    const claim = (rel: string) => {
      if (claimed.has(rel)) return;
      claimed.add(rel);
      mine.push(rel);
    };
    for (const pattern of pkg.patterns) {
      const re = globRegExp(pattern);
      entries.forEach((e, i) => {
        if (!re.test(e.rel)) return;
        claim(e.rel);
        // listTree is depth first: what is below a directory follows it directly
        for (let j = i + 1; e.isDir && j < entries.length && entries[j].rel.startsWith(`${e.rel}/`); j++) claim(entries[j].rel);
      });
    }
    result.set(pkg.name, mine);
  }
  const unshipped = entries.filter((e) => !e.isDir && !claimed.has(e.rel)).map((e) => e.rel);
  return { packages: result, unshipped };
}
