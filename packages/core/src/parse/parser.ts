/**
 * Metadata text -> statements, line by line as BitBake's feeders read it: lines
 * are right-stripped, `\` joins a line with the next (the backslash dropped, no
 * space added), `#` starts a comment line, and a function body runs to a `}` alone
 * at column 0.
 */
import { ParseError } from "../errors.js";
import type { AssignOp, Loc, Statement, Syntax } from "./ast.js";

const ASSIGN_RE =
  /^(export\s+)?([a-zA-Z0-9\-_+.${}/~:]*?)(?:\[([a-zA-Z0-9\-_+.][a-zA-Z0-9\-_+.@/]*)\])?(\s*)(:=|\?\?=|\?=|\+=|=\+|=\.|\.=|=)(\s*)(?!'[^']*'[^']*'$)(?!"[^"]*"[^"]*"$)(['"])(.*)\7$/s;
/** An assignment whose value is not properly quoted (for a precise error). */
const ASSIGN_HEAD_RE =
  /^(export\s+)?([a-zA-Z0-9\-_+.${}/~:]+?)(?:\[([a-zA-Z0-9\-_+.][a-zA-Z0-9\-_+.@/]*)\])?\s*(:=|\?\?=|\?=|\+=|=\+|=\.|\.=|=)\s*/;
const INCLUDE_RE = /^include\s+(.+)$/;
const REQUIRE_RE = /^require\s+(.+)$/;
const INCLUDE_ALL_RE = /^include_all\s+(.+)$/;
const EXPORT_RE = /^export\s+([a-zA-Z0-9\-_+.${}/~]+)$/;
const UNSET_RE = /^unset\s+([a-zA-Z0-9\-_+.${}/~:]+)$/;
const UNSET_FLAG_RE = /^unset\s+([a-zA-Z0-9\-_+.${}/~:]+)\[([a-zA-Z0-9\-_+.][a-zA-Z0-9\-_+.@]*)\]$/;
const FUNC_START_RE = /^((?:(?:js(?=[\s(])|fakeroot(?=\s))\s*)*)([\w.\-+{}$:]+)?\s*\(\s*\)\s*\{$/;
const JSDEF_RE = /^jsdef\s+(async\s+)?([A-Za-z_$][\w$]*)\s*\(([^)]*)\)\s*\{$/;
const PYTHON_RE = /^(python(?=[\s(])|def\s+\w+.*:$)/;
const INHERIT_RE = /^inherit\s+(.+)$/;
const INHERIT_DEFER_RE = /^inherit_defer\s+(.+)$/;
const EXPORT_FUNCS_RE = /^EXPORT_FUNCTIONS\s+(.+)$/;
const ADDTASK_RE = /^addtask\s+([^#\n]+)(#.*)?$/;
const DELTASK_RE = /^deltask\s+([^#\n]+)(#.*)?$/;
const ADDHANDLER_RE = /^addhandler\s+(.+)$/;

interface OpenFunction {
  kind: "function" | "jsdef";
  name: string;
  line: number;
  lang: "sh" | "js";
  fakeroot: boolean;
  params: string;
  async: boolean;
  body: string[];
}

export interface ParseTextOptions {
  syntax: Syntax;
  /** Class name for EXPORT_FUNCTIONS (the .bbclass file's base name). */
  classname?: string;
}

/** Parse a whole file's text into statements; throws ParseError naming file:line:column. */
export function parseText(text: string, file: string, options: ParseTextOptions): Statement[] {
  const lines = text.split(/\r?\n/);
  if (lines.length && lines[lines.length - 1] === "") lines.pop();
  const statements: Statement[] = [];
  let func: OpenFunction | null = null;
  let residue: string[] = [];
  let residueStart = 0;

  for (let i = 0; i < lines.length; i++) {
    const lineno = i + 1;
    const s = lines[i].replace(/\s+$/, "");

    if (func) {
      if (s === "}") {
        const loc: Loc = { file, line: func.line, column: 1 };
        // BitBake joins the body lines plus an empty one: "" for an empty body
        const body = [...func.body, ""].join("\n");
        if (func.kind === "jsdef") {
          statements.push({ kind: "jsdef", loc, name: func.name, params: func.params, async: func.async, body, bodyLine: func.line + 1 });
        } else {
          statements.push({ kind: "function", loc, name: func.name, lang: func.lang, fakeroot: func.fakeroot, body, bodyLine: func.line + 1 });
        }
        func = null;
      } else {
        func.body.push(s);
      }
      continue;
    }

    if (s.startsWith("#")) {
      if (residue.length && !residue[0].startsWith("#")) {
        throw new ParseError("a comment in the middle of a multi-line expression (joined with '\\') is invalid", { file, line: lineno, column: 1 });
      }
    }
    if (residue.length && residue[0].startsWith("#") && !s.startsWith("#")) {
      throw new ParseError(
        "confusing multi-line, partly commented expression: a comment line ends with '\\' and the next line is not a comment",
        { file, line: residueStart, column: 1 },
      );
    }
    if (s.endsWith("\\")) {
      if (!residue.length) residueStart = lineno;
      residue.push(s.slice(0, -1));
      continue;
    }
    // as BitBake, a statement continued over several lines is located at its last line
    const startLine = lineno;
    const joined = residue.length ? residue.join("") + s : s;
    residue = [];
    if (joined === "" || joined.startsWith("#")) continue;

    const loc: Loc = { file, line: startLine, column: 1 };
    const opened = parseLine(joined, loc, options, statements);
    if (opened) func = opened;
  }

  if (func) {
    const what = func.kind === "jsdef" ? `jsdef function ${func.name}` : `${func.lang === "js" ? "JS" : "Shell"} function ${func.name}`;
    throw new ParseError(`${what} is never closed: expected '}' alone at the start of a line`, { file, line: func.line, column: 1 });
  }
  if (residue.length) {
    throw new ParseError("the file ends inside a line continued with '\\'", { file, line: residueStart, column: 1 });
  }
  return statements;
}

function parseLine(s: string, loc: Loc, options: ParseTextOptions, out: Statement[]): OpenFunction | null {
  const recipe = options.syntax === "recipe";

  if (recipe) {
    if (PYTHON_RE.test(s)) {
      throw new ParseError(
        "Python code is not supported: write 'js name () {' for a function, 'jsdef name(d) {' for a helper",
        loc,
      );
    }
    let m = FUNC_START_RE.exec(s);
    if (m) {
      const prefixes = m[1] ?? "";
      const js = /\bjs\b/.test(prefixes);
      return {
        kind: "function",
        name: m[2] ?? "__anonymous",
        line: loc.line,
        lang: js ? "js" : "sh",
        fakeroot: /\bfakeroot\b/.test(prefixes),
        params: "",
        async: false,
        body: [],
      };
    }
    m = JSDEF_RE.exec(s);
    if (m) {
      return { kind: "jsdef", name: m[2], line: loc.line, lang: "js", fakeroot: false, params: m[3].trim(), async: !!m[1], body: [] };
    }
    if ((m = EXPORT_FUNCS_RE.exec(s))) {
      out.push({ kind: "exportfunctions", loc, names: m[1], classname: options.classname ?? "" });
      return null;
    }
    if ((m = ADDTASK_RE.exec(s))) {
      out.push({ kind: "addtask", loc, ...splitAddTask(m[1].trim(), loc) });
      return null;
    }
    if ((m = DELTASK_RE.exec(s))) {
      out.push({ kind: "deltask", loc, tasks: m[1].trim() });
      return null;
    }
    if ((m = ADDHANDLER_RE.exec(s))) {
      out.push({ kind: "addhandler", loc, names: m[1].trim() });
      return null;
    }
    if ((m = INHERIT_RE.exec(s))) {
      out.push({ kind: "inherit", loc, what: m[1], deferred: false });
      return null;
    }
    if ((m = INHERIT_DEFER_RE.exec(s))) {
      out.push({ kind: "inherit", loc, what: m[1], deferred: true });
      return null;
    }
  }

  let m = ASSIGN_RE.exec(s);
  if (m) {
    if (m[2] === "") throw new ParseError("Empty variable name in assignment", loc);
    out.push({
      kind: "assign",
      loc,
      exported: !!m[1],
      name: m[2],
      flag: m[3],
      op: m[5] as AssignOp,
      value: m[8],
    });
    return null;
  }
  if ((m = INCLUDE_ALL_RE.exec(s))) {
    out.push({ kind: "include", loc, what: m[1], required: false, all: true });
    return null;
  }
  if ((m = INCLUDE_RE.exec(s))) {
    out.push({ kind: "include", loc, what: m[1], required: false });
    return null;
  }
  if ((m = REQUIRE_RE.exec(s))) {
    out.push({ kind: "include", loc, what: m[1], required: true });
    return null;
  }
  if ((m = EXPORT_RE.exec(s))) {
    out.push({ kind: "export", loc, name: m[1] });
    return null;
  }
  if ((m = UNSET_FLAG_RE.exec(s))) {
    out.push({ kind: "unset", loc, name: m[1], flag: m[2] });
    return null;
  }
  if ((m = UNSET_RE.exec(s))) {
    out.push({ kind: "unset", loc, name: m[1] });
    return null;
  }
  throw unparsedLine(s, loc, options);
}

/** Explain an unparsable line as precisely as we can. */
function unparsedLine(s: string, loc: Loc, options: ParseTextOptions): ParseError {
  const head = ASSIGN_HEAD_RE.exec(s);
  if (head) {
    const column = head[0].length + 1;
    const rest = s.slice(head[0].length);
    const reason =
      rest === ""
        ? `expected a quoted value after '${head[4]}'`
        : /^['"]/.test(rest)
          ? `unterminated or badly quoted value: expected the value to end with ${rest[0]} at the end of the line`
          : `expected a value in "double" or 'single' quotes after '${head[4]}', found ${JSON.stringify(rest.slice(0, 20))}`;
    return new ParseError(reason, { ...loc, column });
  }
  const lead = s.length - s.trimStart().length;
  const word = s.trim().split(/\s+/)[0];
  if (options.syntax === "conf" && /^(inherit|inherit_defer|addtask|deltask|addhandler|EXPORT_FUNCTIONS|jsdef|js)$/.test(word)) {
    return new ParseError(`'${word}' is not allowed in a configuration file (use INHERIT += "..." for classes)`, { ...loc, column: lead + 1 });
  }
  if (options.syntax === "conf" && /\(\s*\)\s*\{$/.test(s)) {
    return new ParseError("functions are not allowed in a configuration file", { ...loc, column: lead + 1 });
  }
  if (lead > 0) {
    return new ParseError(`unparsed line (unexpected indentation): '${s}'`, { ...loc, column: lead + 1 });
  }
  return new ParseError(
    `unparsed line: '${s}': expected an assignment (VAR = "value"), a function, or a directive (include, require, inherit, export, unset, addtask, ...)`,
    { ...loc, column: 1 },
  );
}

/** BitBake splits on " before " / " after " so names expand as late as possible. */
function splitAddTask(text: string, loc: Loc): { tasks: string; before: string; after: string } {
  const tasks = text.split(" before ")[0].split(" after ")[0];
  let after = "";
  let before = "";
  for (const exp of text.split(" before ")) {
    const parts = exp.split(" after ");
    if (parts.length > 1) after += parts.slice(1).join(" ");
  }
  for (const exp of text.split(" after ")) {
    const parts = exp.split(" before ");
    if (parts.length > 1) before += parts.slice(1).join(" ");
  }
  for (const word of text.split(/\s+/)) {
    if (/:(append|prepend|remove)/.test(word)) {
      throw new ParseError(`task name '${word}' contains an operation keyword (:append, :prepend, :remove); rename the task`, loc);
    }
  }
  return { tasks: tasks.trim(), before: before.trim(), after: after.trim() };
}
