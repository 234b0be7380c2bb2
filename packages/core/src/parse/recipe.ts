/**
 * The public parse entry points: configuration files (no finalisation) and
 * recipes (recipe, then its .bbappends, then finalisation as BitBake does it).
 */
import { KilnError, ParseError, SkipRecipe } from "../errors.js";
import type { DataStore } from "../data/datastore.js";
import { expandKeys } from "../data/expand-keys.js";
import { attributeJsError, buildScope, compileFunction, functionSource } from "../js/functions.js";
import { evaluateFile, inherit, ParseSession } from "./evaluate.js";

export { ParseSession } from "./evaluate.js";

/** Parse a configuration-syntax file into `d` (no finalisation). Returns `d`. */
export function parseConfFile(d: DataStore, path: string, session = new ParseSession()): DataStore {
  evaluateFile(path, d, session);
  return d;
}

export interface ParseRecipeOptions {
  appends?: string[];
  session?: ParseSession;
}

/**
 * Parse a recipe into `d` (pass a copy of the configuration), apply its
 * .bbappend files, then finalise. Returns `d`. A recipe that skips itself
 * (kiln.skipRecipe) comes back with `__SKIPPED` set to the reason.
 */
export function parseRecipeFile(d: DataStore, path: string, options: ParseRecipeOptions = {}): DataStore {
  const session = options.session ?? new ParseSession();
  const appends = options.appends ?? [];
  d.setVar("__bbclasstype", "recipe", { ignore: true });
  d.setVar("__BB_RECIPE_FILE", path, { ignore: true });
  if (appends.length) d.setVar("__BBAPPEND", appends.join(" "), { ignore: true });
  try {
    evaluateFile(path, d, session);
    for (const append of appends) evaluateFile(append, d, session);
    d.setVar("FILE", path, { ignore: true, parsing: true });
    finalize(d, session);
  } catch (err) {
    if (err instanceof SkipRecipe) {
      d.setVar("__SKIPPED", err.message, { ignore: true });
      return d;
    }
    throw err;
  }
  return d;
}

/** bb.parse.ast.finalize: deferred inherits, handlers, key expansion, anonymous functions. */
export function finalize(d: DataStore, session: ParseSession): void {
  for (;;) {
    const deferred = (d.getVar("__BBDEFINHERITS", false) as [string, string, number][] | undefined) ?? [];
    if (!deferred.length) break;
    const [what, file, line] = deferred[0];
    d.setVar("__BBDEFINHERITS", deferred.slice(1), { ignore: true });
    inherit(what, d, session, { file, line, column: 1 }, true);
  }
  for (const handler of (d.getVar("__BBHANDLERS", false) as string[] | undefined) ?? []) {
    if (!d.getVarFlag(handler, "filename", false)) {
      throw new KilnError("PARSE_ERROR", `Undefined event handler function '${handler}'`);
    }
  }
  expandKeys(d);
  runAnonymousFunctions(d);
  d.setVar("BBINCLUDED", [...session.files.keys()].filter((f) => session.files.get(f) !== null).join(" "), { ignore: true });
}

/** Run `js __anonymous () {}` blocks in definition order, each with `d` and `kiln`. */
export function runAnonymousFunctions(d: DataStore): void {
  const names = (d.getVar("__BBANONFUNCS", false) as string[] | undefined) ?? [];
  if (!names.length) return;
  const scope = buildScope(d);
  for (const name of names) {
    const src = { ...functionSource(d, name), params: "d", name: "__anonymous" };
    let result: unknown;
    try {
      result = compileFunction(src, scope)(d);
    } catch (err) {
      if (err instanceof SkipRecipe) throw err;
      throw attributeJsError(err, src);
    }
    if (result instanceof Promise) {
      result.catch(() => undefined);
      throw new ParseError("anonymous functions run while parsing and must not be async", {
        file: src.file ?? "?",
        line: src.bodyLine ?? 1,
      });
    }
  }
}

/** Tasks registered with addtask, in order. */
export function listTasks(d: DataStore): string[] {
  return [...((d.getVar("__BBTASKS", false) as string[] | undefined) ?? [])];
}

export { varsFromFile } from "./vars-from-file.js";
