/**
 * What a shell body runs and reads, from a real parse (tree-sitter's bash grammar,
 * through web-tree-sitter): every command name in command position — also inside
 * `if`, loops, `case`, pipelines, subshells, `$(...)`, backticks and functions the
 * body defines — minus the functions the body defines itself (as BitBake's
 * ShellParser). `eval` of literal text is parsed too; a command name that is not
 * literal (`$CMD args`, `eval "$x"`) cannot be known and is reported.
 *
 * The parser is WebAssembly: `initShellParser()` (async, once per thread) must
 * have resolved before `shellDeps` is called; parsing itself is synchronous.
 */
import { createRequire } from "node:module";
import { Language, Parser, type Node } from "web-tree-sitter";

export interface CodeDeps {
  /** Commands run (shell) or functions called (JS), by literal name. */
  execs: Set<string>;
  /** Variables read: `$X`/`${X}` in shell; `d.getVar('X')` & co. in JS (`X[flag]` for flags). */
  vars: Set<string>;
  /** Why some dependency could not be determined (non-literal names), for debug output. */
  unknown: string[];
  /** `contains`-style reads: variable -> the items whose presence matters (JS only). */
  contains: Map<string, Set<string>>;
}

let parser: Parser | undefined;
let loading: Promise<void> | undefined;

/** Load the bash grammar (idempotent). */
export function initShellParser(): Promise<void> {
  loading ??= (async () => {
    await Parser.init();
    const require = createRequire(import.meta.url);
    const bash = await Language.load(require.resolve("tree-sitter-bash/tree-sitter-bash.wasm"));
    const p = new Parser();
    p.setLanguage(bash);
    parser = p;
  })();
  return loading;
}

export function shellParserReady(): boolean {
  return parser !== undefined;
}

/** Commands that run their first argument as a command. */
const RUNS_ITS_ARGUMENT = new Set(["exec", "command", "builtin", "nohup", "time"]);

/** A word's text when it is a plain literal (no expansions), unquoted. */
function literal(node: Node | null): string | undefined {
  if (!node) return undefined;
  switch (node.type) {
    case "word":
      return node.text.replace(/\\(.)/g, "$1");
    case "command_name":
      return literal(node.namedChild(0));
    case "raw_string":
      return node.text.slice(1, -1);
    case "string":
      // "text" without expansions
      return node.namedChildren.every((c) => c?.type === "string_content") ? node.text.slice(1, -1) : undefined;
    case "concatenation": {
      let out = "";
      for (const c of node.namedChildren) {
        const part = literal(c);
        if (part === undefined) return undefined;
        out += part;
      }
      return out;
    }
    default:
      return undefined;
  }
}

const cache = new Map<string, CodeDeps>();
const CACHE_LIMIT = 50_000;

function parseTree(code: string) {
  if (!parser) throw new Error("the shell parser is not loaded: await initShellParser() first");
  const tree = parser.parse(code);
  if (!tree) throw new Error("the shell parser returned nothing");
  return tree;
}

function collect(code: string, out: CodeDeps, defined: Set<string>, depth: number): void {
  const tree = parseTree(code);
  try {
    const stack: Node[] = [tree.rootNode];
    while (stack.length) {
      const node = stack.pop() as Node;
      switch (node.type) {
        case "function_definition": {
          const name = literal(node.childForFieldName("name"));
          if (name) defined.add(name);
          break;
        }
        case "command": {
          const nameNode = node.childForFieldName("name");
          const name = literal(nameNode);
          if (name === undefined) {
            // `$(cmd)` as a command is walked below; a variable as a command cannot be known
            if (nameNode && !nameNode.text.startsWith("$(") && !nameNode.text.startsWith("`")) {
              out.unknown.push(`command name '${nameNode.text}' is not literal`);
            }
            break;
          }
          out.execs.add(name);
          const args = node.childrenForFieldName("argument").filter((a): a is Node => a !== null);
          if (name === "eval") {
            const text = args.map(literal);
            if (text.every((t) => t !== undefined) && depth < 8) collect(text.join(" "), out, defined, depth + 1);
            else out.unknown.push(`eval of '${args.map((a) => a.text).join(" ")}'`);
          } else if (RUNS_ITS_ARGUMENT.has(name) && args.length) {
            const first = literal(args[0]);
            if (first && !first.startsWith("-")) out.execs.add(first);
          }
          break;
        }
        case "simple_expansion":
        case "expansion": {
          const v = node.namedChildren.find((c) => c?.type === "variable_name");
          if (v) out.vars.add(v.text);
          break;
        }
      }
      for (let i = node.namedChildCount - 1; i >= 0; i--) {
        const child = node.namedChild(i);
        if (child) stack.push(child);
      }
    }
  } finally {
    tree.delete();
  }
}

/** Commands a shell body runs and variables it reads (cached per text). */
export function shellDeps(code: string): CodeDeps {
  const hit = cache.get(code);
  if (hit) return hit;
  const out: CodeDeps = { execs: new Set(), vars: new Set(), unknown: [], contains: new Map() };
  const defined = new Set<string>();
  collect(code, out, defined, 0);
  // calls of functions the body defines itself are not dependencies
  for (const name of defined) out.execs.delete(name);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(code, out);
  return out;
}

const REF_RE = /\$\{([a-zA-Z0-9\-_+./~:]+?)\}/g;
/** A value that cannot change the shell structure it is substituted into. */
const STRUCTURE_FREE = /^[A-Za-z0-9_\-+.,/:@%^~= \t]*$/;

/** `NAME=...${ref}...` in the template: a reference inside an assignment word. */
const IN_ASSIGNMENT = /(?:^|[\s;&|(])[A-Za-z_][A-Za-z0-9_]*=[^\s;&|()]*?__kiln_ref_(\d+)__/g;

/**
 * The commands of a shell function as BitBake finds them in its *expanded* body,
 * computed from the unexpanded body when that gives the same answer: each
 * `${VAR}` becomes a placeholder word, so the parse is shared by every recipe using
 * the same body. It falls back to parsing the expanded text whenever a value could
 * change the structure: shell syntax in a value, `${@...}`, a reference in command
 * position (an empty value or `A=1` there changes which word is the command), or a
 * multi-word value inside an assignment. `valueOf` gives a reference's value.
 */
export function shellExecs(unexpanded: string, expanded: string, valueOf: (name: string) => string | undefined): CodeDeps {
  if (!unexpanded.includes("${")) return shellDeps(unexpanded);
  if (unexpanded.includes("${@")) return shellDeps(expanded);
  const index = new Map<string, number>();
  const values: string[] = [];
  let safe = true;
  const template = unexpanded.replace(REF_RE, (match, name: string) => {
    let i = index.get(name);
    if (i === undefined) {
      const v = valueOf(name);
      // an undefined reference stays literally `${NAME}` in the expanded text
      const value = v === undefined ? match : v;
      if (!STRUCTURE_FREE.test(value)) safe = false;
      i = values.length;
      index.set(name, i);
      values.push(value);
    }
    return `__kiln_ref_${i}__`;
  });
  if (!safe || template.includes("${")) return shellDeps(expanded);
  for (const m of template.matchAll(IN_ASSIGNMENT)) if (/\s/.test(values[Number(m[1])])) return shellDeps(expanded);
  const parsed = shellDeps(template);
  for (const exec of parsed.execs) if (exec.includes("__kiln_ref_")) return shellDeps(expanded);
  return parsed;
}
