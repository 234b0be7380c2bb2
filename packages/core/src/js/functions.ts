/**
 * Compiling JavaScript that metadata defines (`jsdef` helpers, `js` functions,
 * anonymous functions) so that errors point at the metadata file and line: the
 * generated source is padded to the body's line and tagged with a sourceURL.
 */
import { JsError, KilnError } from "../errors.js";
import type { DataStore } from "../data/datastore.js";
import { setDefaultInlineScope } from "../data/datastore.js";
import { defaultKilnJsApi, type KilnJsApi } from "./kiln-api.js";

type Compiled = (...args: unknown[]) => unknown;
const compiledFunctions = new Map<string, (scope: object) => Compiled>();

export interface FunctionSource {
  name: string;
  params: string;
  body: string;
  file?: string;
  /** Line of the body's first line in `file`. */
  bodyLine?: number;
  async?: boolean;
}

/** `new Function` puts two lines of its own before our source. */
const FUNCTION_HEADER_LINES = 2;
/** The earliest line a body can be placed on: the two above plus our `with ... {` line. */
const FIRST_BODY_LINE = FUNCTION_HEADER_LINES + 2;

/** How far below its metadata line a body lands when it starts too early in its file to pad. */
function lineShift(src: FunctionSource): number {
  return src.bodyLine ? Math.max(0, FIRST_BODY_LINE - src.bodyLine) : 0;
}

function sourceFor(src: FunctionSource): string {
  const isAsync = src.async || /\bawait\b/.test(src.body);
  const pad = src.bodyLine ? Math.max(0, src.bodyLine - FIRST_BODY_LINE) : 0;
  const safeName = /^[A-Za-z_$][\w$]*$/.test(src.name) ? src.name : "";
  const url = src.file ? `\n//# sourceURL=${src.file}` : "";
  // strict unless the parameter list is non-simple (where the directive is a syntax error)
  const strict = /[=[{]|\.\.\./.test(src.params) ? "" : '"use strict"; ';
  return `${"\n".repeat(pad)}with (__scope) { return ${isAsync ? "async " : ""}function ${safeName}(${src.params}) { ${strict}\n${src.body}\n}; }${url}`;
}

/** Compile a metadata function once per distinct source; the scope resolves free names. */
export function compileFunction(src: FunctionSource, scope: object): Compiled {
  const text = sourceFor(src);
  let factory = compiledFunctions.get(text);
  if (!factory) {
    try {
      factory = new Function("__scope", text) as (scope: object) => Compiled;
    } catch (err) {
      throw new JsError(src.name, src.file ? { file: src.file, line: src.bodyLine ?? 1 } : undefined, err);
    }
    compiledFunctions.set(text, factory);
  }
  return factory(scope);
}

/** The metadata line an error was thrown from, when its stack points into `file`. */
export function errorLine(err: unknown, file: string | undefined, shift = 0): number | undefined {
  if (!file || !(err instanceof Error) || !err.stack) return undefined;
  for (const line of err.stack.split("\n")) {
    const at = line.lastIndexOf(`${file}:`);
    if (at < 0) continue;
    const m = /^(\d+):\d+/.exec(line.slice(at + file.length + 1));
    if (m) return Number(m[1]) - shift;
  }
  return undefined;
}

/** Wrap an exception from metadata code as a JsError at its metadata line. */
export function attributeJsError(err: unknown, src: FunctionSource): KilnError {
  if (err instanceof KilnError) return err;
  const line = errorLine(err, src.file, lineShift(src)) ?? src.bodyLine;
  return new JsError(src.name, src.file && line ? { file: src.file, line } : undefined, err);
}

/** The metadata function `name` as stored in `d`, ready to compile. */
export function functionSource(d: DataStore, name: string): FunctionSource {
  const body = d.getVar(name, false);
  const file = d.getVarFlag(name, "filename", false);
  const lineno = d.getVarFlag(name, "lineno", false);
  return {
    name,
    params: d.getVarFlag(name, "jsdef", false) ?? "d",
    body: typeof body === "string" ? body : "",
    file: typeof file === "string" ? file : undefined,
    // the flag holds the header's line; the body starts on the next
    bodyLine: lineno ? Number(lineno) + 1 : undefined,
    async: !!d.getVarFlag(name, "async", false),
  };
}

interface ScopeCacheEntry {
  jsdefs: unknown;
  api: KilnJsApi;
  scope: Record<string, unknown>;
}
const scopeCache = new WeakMap<DataStore, ScopeCacheEntry>();
const apiFor = new WeakMap<DataStore, KilnJsApi>();

/** Give a store (and the copies made from it later) its own `kiln` object. */
export function setKilnApi(d: DataStore, api: KilnJsApi): void {
  apiFor.set(d, api);
  d.inlineScope = (store) => buildScope(store, api);
}

/**
 * The names metadata JavaScript sees: `d`, `kiln`, and every `jsdef` helper
 * (helpers see each other through the same scope).
 */
export function buildScope(d: DataStore, api: KilnJsApi = apiFor.get(d) ?? defaultKilnJsApi): Record<string, unknown> {
  const jsdefs = d.getVar("__JSDEFS", false);
  const cached = scopeCache.get(d);
  if (cached && cached.jsdefs === jsdefs && cached.api === api) return cached.scope;
  const scope: Record<string, unknown> = Object.create(null);
  scope.d = d;
  scope.kiln = api;
  if (Array.isArray(jsdefs)) {
    for (const name of jsdefs as string[]) {
      const src = functionSource(d, name);
      const fn = compileFunction(src, scope);
      scope[name] = (...args: unknown[]) => {
        try {
          return fn(...args);
        } catch (err) {
          throw attributeJsError(err, src);
        }
      };
    }
  }
  scopeCache.set(d, { jsdefs, api, scope });
  return scope;
}

setDefaultInlineScope((d) => buildScope(d));
