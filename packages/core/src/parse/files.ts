/**
 * Reading metadata files: one read, one content hash and one parse per file per
 * process, so classes and .inc files shared by thousands of recipes are parsed once
 * (DESIGN §3). Every file a parse looks at — found or not — is recorded so the
 * parse cache can tell when a result is stale.
 */
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { basename, extname, isAbsolute, join } from "node:path";
import type { Statement, Syntax } from "./ast.js";
import { parseText } from "./parser.js";

export interface ParsedFile {
  path: string;
  hash: string;
  statements: Statement[];
  mtimeMs: number;
  size: number;
}

const parsed = new Map<string, ParsedFile>();
const existence = new Map<string, boolean>();
/** Remember which paths exist only during a bulk parse, when the tree is taken as fixed. */
let rememberExistence = false;

/** Run `fn` treating the file tree as unchanging (existence look-ups are memoised). */
export function withStableTree<T>(fn: () => T): T {
  const before = rememberExistence;
  if (!before) existence.clear();
  rememberExistence = true;
  try {
    return fn();
  } finally {
    rememberExistence = before;
  }
}

export function sha256(text: string | Buffer): string {
  return createHash("sha256").update(text).digest("hex");
}

export function fileExists(path: string): boolean {
  let known = rememberExistence ? existence.get(path) : undefined;
  if (known === undefined) {
    try {
      known = statSync(path).isFile();
    } catch {
      known = false;
    }
    if (rememberExistence) existence.set(path, known);
  }
  return known;
}

/** Which grammar a file uses, as BitBake picks a handler: `.conf` files are configuration. */
export function syntaxOf(path: string): Syntax {
  return extname(path) === ".conf" ? "conf" : "recipe";
}

/** Parse a file (cached per process while unchanged). Throws ENOENT errors as they are. */
export function loadFile(path: string): ParsedFile {
  const hit = parsed.get(path);
  if (hit && rememberExistence) return hit;
  const st = statSync(path);
  if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit;
  const text = readFileSync(path, "utf8");
  const ext = extname(path);
  const statements = parseText(text, path, {
    syntax: syntaxOf(path),
    classname: ext === ".bbclass" ? basename(path, ext) : undefined,
  });
  const file: ParsedFile = { path, hash: sha256(text), statements, mtimeMs: st.mtimeMs, size: st.size };
  parsed.set(path, file);
  return file;
}

/** Forget cached files (tests, long-running processes after edits). */
export function clearFileCache(): void {
  parsed.clear();
  existence.clear();
}

/**
 * BitBake's bb.utils.which: the first `dir/file` that exists along a
 * colon-separated path, and every candidate looked at before it.
 */
export function which(searchPath: string, file: string): { found: string | null; attempts: string[] } {
  const attempts: string[] = [];
  if (isAbsolute(file)) return { found: fileExists(file) ? file : null, attempts: [file] };
  for (const dir of searchPath.split(":")) {
    if (!dir) continue;
    const candidate = join(dir, file);
    attempts.push(candidate);
    if (fileExists(candidate)) return { found: candidate, attempts };
  }
  return { found: null, attempts };
}
