/**
 * What a JS body reads and calls, from an acorn parse (BitBake's PythonParser, for
 * kiln's JavaScript): `d.getVar('X')`, `d.appendVar`/`prependVar('X')`,
 * `d.getVarFlag('X', 'f')` (as `X[f]`), `${...}` references inside literal
 * `d.expand('...')` text, `kiln.utils.contains('X', 'item', ...)` /
 * `containsAny` / `filter` (recorded as contains: only the item's presence
 * matters), and calls by name (`helper(d)`, `a.b(d)`) as execs — the caller keeps
 * those that name metadata functions. A non-literal variable name is reported.
 */
import { parse, type Node } from "acorn";
import { simple } from "acorn-walk";
import type { CodeDeps } from "./shell.js";

const GETVARS = new Set(["getVar", "appendVar", "prependVar"]);
const CONTAINS = new Set(["contains", "containsAny", "filter"]);

interface CallNode {
  callee: Node & { type: string; name?: string; object?: Node; property?: Node & { name?: string }; computed?: boolean };
  arguments: (Node & { type: string; value?: unknown; quasis?: { value: { cooked: string } }[]; expressions?: unknown[] })[];
}

/** `a.b.c` for identifiers and non-computed members, else undefined. */
function dotted(node: CallNode["callee"] | Node | undefined): string | undefined {
  if (!node) return undefined;
  const n = node as CallNode["callee"];
  if (n.type === "Identifier") return n.name;
  if (n.type === "MemberExpression" && !n.computed && n.property?.name) {
    const head = dotted(n.object);
    return head ? `${head}.${n.property.name}` : undefined;
  }
  return undefined;
}

/** A string literal or a template without substitutions. */
function stringArg(node: CallNode["arguments"][number] | undefined): string | undefined {
  if (!node) return undefined;
  if (node.type === "Literal" && typeof node.value === "string") return node.value;
  if (node.type === "TemplateLiteral" && node.expressions?.length === 0) return node.quasis?.[0]?.value.cooked;
  return undefined;
}

const REF_RE = /\$\{([a-zA-Z0-9\-_+./~:]+?)\}/g;
const cache = new Map<string, CodeDeps>();

function parseProgram(code: string, expression: boolean): Node {
  // a body is wrapped so `return` and `await` parse; an inline expression is parenthesised
  const text = expression ? `(${code}\n)` : `(async function () {\n${code}\n})`;
  return parse(text, { ecmaVersion: "latest", sourceType: "script", allowReturnOutsideFunction: true, allowAwaitOutsideFunction: true });
}

/** What a JS function body (or, with `expression`, a `${@...}` expression) depends on. */
export function jsDeps(code: string, expression = false): CodeDeps {
  const key = `${expression ? "e" : "b"}:${code}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const out: CodeDeps = { execs: new Set(), vars: new Set(), unknown: [], contains: new Map() };
  let program: Node;
  try {
    program = parseProgram(code, expression);
  } catch (err) {
    out.unknown.push(`cannot parse JavaScript: ${(err as Error).message}`);
    cache.set(key, out);
    return out;
  }
  simple(program, {
    CallExpression(raw) {
      const node = raw as unknown as CallNode;
      const name = dotted(node.callee);
      if (!name) return;
      const method = name.slice(name.lastIndexOf(".") + 1);
      const first = stringArg(node.arguments[0]);
      const isMethod = name.includes(".");
      if (isMethod && (GETVARS.has(method) || method === "getVarFlag")) {
        if (first === undefined) {
          out.unknown.push(`cannot determine dependency: ${name}() with a non-literal name`);
          return;
        }
        if (method === "getVarFlag") {
          const flag = stringArg(node.arguments[1]);
          if (flag === undefined) out.unknown.push(`cannot determine dependency: ${name}('${first}', ...) with a non-literal flag`);
          else out.vars.add(`${first}[${flag}]`);
        } else out.vars.add(first);
        return;
      }
      if (isMethod && method === "expand") {
        if (first === undefined) out.unknown.push(`cannot determine dependency: ${name}() of non-literal text`);
        else for (const m of first.matchAll(REF_RE)) out.vars.add(m[1]);
        return;
      }
      if (isMethod && method === "execFunc") {
        // bb.build.exec_func: the function it runs is a dependency
        if (first === undefined) out.unknown.push(`cannot determine dependency: ${name}() of a non-literal function name`);
        else out.execs.add(first);
        return;
      }
      if (name.endsWith("utils.contains") || name.endsWith("utils.containsAny") || name.endsWith("utils.filter") || (!isMethod && CONTAINS.has(name))) {
        const item = stringArg(node.arguments[1]);
        if (first === undefined || item === undefined) {
          out.unknown.push(`cannot determine dependency: ${name}() with non-literal arguments`);
          if (first !== undefined) out.vars.add(first);
          return;
        }
        const set = out.contains.get(first) ?? new Set<string>();
        // contains() needs all the words together; containsAny()/filter() each word alone (BitBake)
        if (method === "contains") set.add(item);
        else for (const w of item.split(/\s+/).filter(Boolean)) set.add(w);
        out.contains.set(first, set);
        return;
      }
      out.execs.add(name);
    },
  });
  cache.set(key, out);
  return out;
}
