/**
 * The public parse entry points: configuration files (no finalisation) and
 * recipes (recipe, then its .bbappends, then finalisation as BitBake does it).
 */
import { KilnError, ParseError, SkipRecipe } from "../errors.js";
import type { DataStore } from "../data/datastore.js";
import { expandKeys } from "../data/expand-keys.js";
import { attributeJsError, buildScope, compileFunction, functionSource } from "../js/functions.js";
import { evaluateFile, inherit, ParseSession } from "./evaluate.js";
import { failOnRenamedVariables } from "../data/datastore.js";

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
 * (kiln.skipRecipe) comes back with `__SKIPPED` set to the reason. Its
 * BBCLASSEXTEND variants are not made (parseRecipeVariants makes them).
 */
export function parseRecipeFile(d: DataStore, path: string, options: ParseRecipeOptions = {}): DataStore {
  return parseRecipeVariants(d, path, { ...options, only: "" }).get("") as DataStore;
}

/** The file name BitBake gives variant `cls` of `file`: `virtual:native:/path/foo.bb`. */
export function variantFile(cls: string, file: string): string {
  return cls ? `virtual:${cls}:${file}` : file;
}

/** `virtual:CLS:/path/foo.bb` → the real file and the variant (`""` for a plain file name), as bb.cache.virtualfn2realfn. */
export function splitVariantFile(fn: string): { file: string; cls: string } {
  if (!fn.startsWith("virtual:")) return { file: fn, cls: "" };
  const parts = fn.split(":");
  return { file: parts[parts.length - 1] as string, cls: parts.slice(1, -1).join(":") };
}

/**
 * Parse a recipe and its BBCLASSEXTEND variants as BitBake's multi_finalize: the
 * recipe and its appends are evaluated once; a copy is finalised as the recipe
 * itself (key `""`), and each name in its (finalised) BBCLASSEXTEND gets another copy
 * of the unfinalised store in which, for a plain name (`native`), PN becomes
 * `${PN}-native`, or for `class:variant` (`multilib:lib32`) BBEXTENDCURR and
 * BBEXTENDVARIANT are set; the class is inherited (deferred, so after the recipe's
 * own inherits) and the copy finalised. A variant that skips itself is returned
 * skipped, the others unaffected. `only`: finalise the recipe and just that variant.
 */
export function parseRecipeVariants(d: DataStore, path: string, options: ParseRecipeOptions & { only?: string } = {}): Map<string, DataStore> {
  const session = options.session ?? new ParseSession();
  const appends = options.appends ?? [];
  d.setVar("__bbclasstype", "recipe", { ignore: true });
  d.setVar("__BB_RECIPE_FILE", path, { ignore: true });
  if (appends.length) d.setVar("__BBAPPEND", appends.join(" "), { ignore: true });
  const out = new Map<string, DataStore>([["", d]]);
  try {
    evaluateFile(path, d, session);
    for (const append of appends) evaluateFile(append, d, session);
    d.setVar("FILE", path, { ignore: true, parsing: true });
    // as BitBake's multi_finalize: once, before any variant is copied (so a deferred
    // class sees the recipe's own PN in every variant)
    resolveDeferredInherits(d, session);
  } catch (err) {
    if (!(err instanceof SkipRecipe)) throw err;
    d.setVar("__SKIPPED", err.message, { ignore: true });
    return out;
  }
  // copies never see each other's writes: `unfinalised` stays as the recipe left it
  const unfinalised = d.createCopy();
  finaliseOrSkip(d, session);
  // renamed variables the recipe, its appends or its anonymous functions set
  failOnRenamedVariables(d, path);
  const extended = [...new Set(String(d.getVar("BBCLASSEXTEND") ?? "").split(/\s+/).filter(Boolean))];
  if (!extended.length) return out;
  const pn = String(d.getVar("PN") ?? "");
  unfinalised.setVar("BBCLASSEXTEND", extended.join(" "), { ignore: true });
  for (const name of extended) {
    if (options.only !== undefined && options.only !== name) continue;
    const [cls, variant] = name.split(":");
    const v = unfinalised.createCopy();
    if (variant !== undefined) {
      v.setVar("BBEXTENDCURR", cls, { ignore: true });
      v.setVar("BBEXTENDVARIANT", variant, { ignore: true });
    } else {
      v.setVar("PN", `${pn}-${name}`, { file: path, op: "BBCLASSEXTEND" });
    }
    // inherited at once, after the recipe's deferred classes (resolved above)
    try {
      inherit(cls as string, v, session, { file: path, line: 1, column: 1 }, false);
    } catch (err) {
      if (!(err instanceof SkipRecipe)) throw err;
      v.setVar("__SKIPPED", err.message, { ignore: true });
      out.set(name, v);
      continue;
    }
    finaliseOrSkip(v, session);
    failOnRenamedVariables(v, variantFile(name, path));
    out.set(name, v);
  }
  return out;
}

function finaliseOrSkip(d: DataStore, session: ParseSession): void {
  try {
    finalize(d, session);
  } catch (err) {
    if (!(err instanceof SkipRecipe)) throw err;
    d.setVar("__SKIPPED", err.message, { ignore: true });
  }
}

/** The `inherit_defer` (and BB_DEFER_BBCLASSES) classes, in the order deferred; a class may defer more. */
function resolveDeferredInherits(d: DataStore, session: ParseSession): void {
  for (;;) {
    const deferred = (d.getVar("__BBDEFINHERITS", false) as [string, string, number][] | undefined) ?? [];
    if (!deferred.length) break;
    const [what, file, line] = deferred[0];
    d.setVar("__BBDEFINHERITS", deferred.slice(1), { ignore: true });
    inherit(what, d, session, { file, line, column: 1 }, true);
  }
}

/**
 * bb.parse.ast.finalize: handlers, key expansion, anonymous functions (deferred
 * inherits are resolved before it, by parseRecipeVariants; any left, e.g. a variant's
 * class that BB_DEFER_BBCLASSES names, are resolved first here).
 */
export function finalize(d: DataStore, session: ParseSession): void {
  resolveDeferredInherits(d, session);
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
