/**
 * `${@ expression }` support: finding where an inline expression ends and
 * evaluating it. BitBake ends inline Python at the first `}`; kiln balances braces,
 * quotes and template literals so JavaScript objects and arrow bodies work.
 */

/** Index of the `}` closing an expression that starts at `start`, or -1. */
export function findExpressionEnd(s: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < s.length) {
    const c = s[i];
    if (c === "'" || c === '"') {
      i = skipQuoted(s, i, c);
      if (i < 0) return -1;
    } else if (c === "`") {
      i = skipTemplate(s, i);
      if (i < 0) return -1;
    } else if (c === "{") {
      depth++;
    } else if (c === "}") {
      if (depth === 0) return i;
      depth--;
    }
    i++;
  }
  return -1;
}

/** Returns the index of the closing quote. */
function skipQuoted(s: string, open: number, quote: string): number {
  for (let i = open + 1; i < s.length; i++) {
    const c = s[i];
    if (c === "\\") i++;
    else if (c === quote) return i;
  }
  return -1;
}

/** Returns the index of the closing backtick, stepping over `${...}` parts. */
function skipTemplate(s: string, open: number): number {
  for (let i = open + 1; i < s.length; i++) {
    const c = s[i];
    if (c === "\\") i++;
    else if (c === "`") return i;
    else if (c === "$" && s[i + 1] === "{") {
      const end = findExpressionEnd(s, i + 2);
      if (end < 0) return -1;
      i = end;
    }
  }
  return -1;
}

type InlineFn = (scope: object) => unknown;
const compiled = new Map<string, InlineFn>();

/**
 * Compile (once per distinct text) and run an inline expression. The scope object
 * holds `d`, `kiln` and the store's `jsdef` helpers; `with` makes them plain names
 * (hence a sloppy-mode function).
 */
export function evaluateInline(code: string, scope: object): unknown {
  let fn = compiled.get(code);
  if (!fn) {
    // the inner function is strict, so assigning an undeclared name throws instead of making a global
    fn = new Function("__scope", `with (__scope) { return (function () { "use strict"; return (${code}\n); })(); }`) as InlineFn;
    compiled.set(code, fn);
  }
  return fn(scope);
}

/** BitBake's `str(value)` for an inline result: null/undefined give "". */
export function inlineResultToString(value: unknown): string {
  if (value === null || value === undefined) return "";
  return String(value);
}
