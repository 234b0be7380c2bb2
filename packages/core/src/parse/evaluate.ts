/**
 * Statements -> DataStore, with BitBake's meaning for each (bb.parse.ast), plus
 * include/require/inherit resolution along BBPATH.
 */
import { dirname, extname, basename } from "node:path";
import { KilnError, ParseError } from "../errors.js";
import type { DataStore, SetOptions } from "../data/datastore.js";
import type { AssignStmt, Loc, Statement } from "./ast.js";
import { loadFile, which } from "./files.js";

/** What one top-level parse (a configuration or a recipe) touched, for the parse cache. */
export class ParseSession {
  /** Absolute path -> content hash, or null for a path looked at that did not exist. */
  readonly files = new Map<string, string | null>();
  /** Files being evaluated, outermost first (cycle detection). */
  readonly stack: string[] = [];

  markAbsent(path: string): void {
    if (!this.files.has(path)) this.files.set(path, null);
  }
}

export interface EvalContext {
  session: ParseSession;
  /** The file being evaluated. */
  file: string;
}

const TASK_KEYWORD_TR = /[/.+\-@%&~]/g;

function info(loc: Loc, op?: string, detail?: unknown): SetOptions {
  return { file: loc.file, line: loc.line, op, detail };
}

/** Evaluate a parsed file into `d`. */
export function evaluateFile(path: string, d: DataStore, session: ParseSession, loc?: Loc): void {
  if (session.stack.includes(path)) {
    const cycle = [...session.stack.slice(session.stack.indexOf(path)), path].join(" -> ");
    throw new ParseError(`circular inclusion: ${cycle}`, loc ?? { file: path, line: 1, column: 1 });
  }
  const file = loadFile(path);
  session.files.set(path, file.hash);
  const isClass = extname(path) === ".bbclass";
  const oldFile = session.stack.length && !isClass ? d.getVar("FILE", false) : undefined;
  if (!isClass && path !== oldFile) d.setVar("FILE", path, { ignore: true, parsing: true });
  session.stack.push(path);
  try {
    evaluateStatements(file.statements, d, { session, file: path });
  } finally {
    session.stack.pop();
  }
  if (!isClass && oldFile !== undefined && oldFile !== path) d.setVar("FILE", oldFile, { ignore: true, parsing: true });
}

export function evaluateStatements(statements: Statement[], d: DataStore, ctx: EvalContext): void {
  for (const st of statements) {
    try {
      evaluateStatement(st, d, ctx);
    } catch (err) {
      // a metadata error raised below without a location gets the statement's
      if (err instanceof KilnError && err.code === "PARSE_ERROR" && !(err instanceof ParseError)) {
        throw new ParseError(err.message, st.loc, { cause: err, hint: err.hint });
      }
      if (err instanceof KilnError) throw err;
      throw new ParseError(err instanceof Error ? err.message : String(err), st.loc, { cause: err });
    }
  }
}

function evaluateStatement(st: Statement, d: DataStore, ctx: EvalContext): void {
  switch (st.kind) {
    case "assign":
      return assign(st, d);
    case "export":
      d.setVarFlag(st.name, "export", 1, info(st.loc, "exported"));
      return;
    case "unset":
      if (st.flag) d.delVarFlag(st.name, st.flag, info(st.loc));
      else d.delVar(st.name, info(st.loc));
      return;
    case "include":
      for (const what of d.expand(st.what).split(/\s+/).filter(Boolean)) {
        if (!st.all) {
          includeFile(what, st.required, d, ctx, st.loc);
          continue;
        }
        if (what.startsWith("/")) throw new ParseError(`Incorrect use of include_all with an absolute path ${what}`, st.loc);
        for (const dir of String(d.getVar("BBPATH") ?? "").split(":")) if (dir) includeFile(`${dir}/${what}`, false, d, ctx, st.loc);
      }
      return;
    case "inherit":
      if (st.deferred) {
        deferInherit(d, st.what, st.loc.file, st.loc.line);
      } else {
        inherit(st.what, d, ctx.session, st.loc, false);
      }
      return;
    case "function":
      return defineFunction(st, d);
    case "jsdef": {
      d.setVar(st.name, st.body, { ...info(st.loc), parsing: true });
      d.setVarFlag(st.name, "func", 1, { ignore: true });
      d.setVarFlag(st.name, "js", "1", { ignore: true });
      d.setVarFlag(st.name, "jsdef", st.params, { ignore: true });
      if (st.async) d.setVarFlag(st.name, "async", "1", { ignore: true });
      else d.delVarFlag(st.name, "async", { ignore: true });
      d.setVarFlag(st.name, "filename", st.loc.file, { ignore: true });
      d.setVarFlag(st.name, "lineno", String(st.loc.line), { ignore: true });
      const defs = ((d.getVar("__JSDEFS", false) as string[] | undefined) ?? []).filter((n) => n !== st.name);
      d.setVar("__JSDEFS", [...defs, st.name], { ignore: true });
      return;
    }
    case "addtask":
      for (const task of d.expand(st.tasks).split(/\s+/).filter(Boolean)) {
        addTask(task, d.expand(st.before), d.expand(st.after), d);
      }
      return;
    case "deltask":
      for (const task of d.expand(st.tasks).split(/\s+/).filter(Boolean)) deleteTask(task, d);
      return;
    case "addhandler": {
      const handlers = [...((d.getVar("__BBHANDLERS", false) as string[] | undefined) ?? [])];
      for (const h of st.names.split(/\s+/).filter(Boolean)) {
        handlers.push(h);
        d.setVarFlag(h, "handler", 1, { ignore: true });
      }
      d.setVar("__BBHANDLERS", handlers, { ignore: true });
      return;
    }
    case "exportfunctions":
      return exportFunctions(st.names, st.classname, d, st.loc);
  }
}

/** BitBake's DataNode.eval. */
function assign(st: AssignStmt, d: DataStore): void {
  const key = st.name;
  const loc = st.loc;
  if (st.exported) d.setVarFlag(key, "export", 1, info(loc, "exported"));
  const current = () =>
    st.flag !== undefined
      ? d.getVarFlag(key, st.flag, false, { noWeakDefault: true })
      : d.getVar(key, false, { noWeakDefault: true, parsing: true });
  const str = (v: unknown) => (v === undefined || v === null ? "" : String(v));
  let val: unknown;
  let op: string;
  switch (st.op) {
    case "?=": {
      op = "set?";
      const existing = current();
      val = existing === undefined || existing === null ? st.value : existing;
      break;
    }
    case ":=":
      op = "immediate";
      // on a copy, as BitBake: its overrides worked out afresh, inline code's writes kept out
      val = d.scratchCopy().expand(st.value, `${key}[:=]`);
      break;
    case "+=":
      op = "append";
      val = `${str(current())} ${st.value}`;
      break;
    case "=+":
      op = "prepend";
      val = `${st.value} ${str(current())}`;
      break;
    case ".=":
      op = "postdot";
      val = `${str(current())}${st.value}`;
      break;
    case "=.":
      op = "predot";
      val = `${st.value}${str(current())}`;
      break;
    case "??=":
      // BitBake logs a weak default as a "set" of the _defaultval flag
      op = "set";
      val = st.value;
      break;
    default:
      op = "set";
      val = st.value;
  }
  const opts: SetOptions = { file: loc.file, line: loc.line, op, detail: st.value, parsing: true };
  if (st.flag !== undefined) {
    d.setVarFlag(key, st.op === "??=" ? `_defaultval_flag_${st.flag}` : st.flag, val, opts);
  } else if (st.op === "??=") {
    d.setVarFlag(key, "_defaultval", val, opts);
  } else {
    d.setVar(key, val, opts);
  }
}

function includeFile(what: string, required: boolean, d: DataStore, ctx: EvalContext, loc: Loc): void {
  const parent = ctx.file;
  let path = what;
  if (!what.startsWith("/")) {
    const bbpath = `${dirname(parent)}:${d.getVar("BBPATH") ?? ""}`;
    const { found, attempts } = which(bbpath, what);
    for (const a of attempts) if (a !== found) ctx.session.markAbsent(a);
    if (found) path = found;
  }
  if (path === parent) return; // BitBake ignores a file including itself
  try {
    evaluateFile(path, d, ctx.session, loc);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      ctx.session.markAbsent(path);
      if (required) {
        throw new ParseError(`Could not include required file ${what}`, loc, {
          hint: `searched ${dirname(parent)} and BBPATH (${d.getVar("BBPATH") ?? "unset"})`,
        });
      }
      return;
    }
    throw err;
  }
}

/** bb.parse.BBHandler.inherit_defer: `what` inherited when the recipe is finalised, after everything it sets. */
export function deferInherit(d: DataStore, what: string, file: string, line: number): void {
  const list = [...((d.getVar("__BBDEFINHERITS", false) as [string, string, number][] | undefined) ?? [])];
  list.push([what, file, line]);
  d.setVar("__BBDEFINHERITS", list, { ignore: true });
}

/**
 * bb.parse.BBHandler.inherit: classes from BBPATH's classes-<type>/ then classes/. A
 * class BB_DEFER_BBCLASSES names is deferred (as `inherit_defer`) unless this already is
 * the deferred inherit.
 */
export function inherit(what: string, d: DataStore, session: ParseSession, loc: Loc, deferred: boolean): void {
  const names = d.expand(what).split(/\s+/).filter(Boolean);
  const defer = deferred ? [] : String(d.getVar("BB_DEFER_BBCLASSES") ?? "").split(/\s+/);
  for (const name of names) {
    if (defer.includes(name)) {
      deferInherit(d, name, loc.file, loc.line);
      continue;
    }
    const classtype = d.getVar("__bbclasstype", false) ?? "recipe";
    let file = "";
    let found: string | null = null;
    for (const dir of [`classes-${classtype}`, "classes"]) {
      file = name.startsWith("/") || name.endsWith(".bbclass") ? name : `${dir}/${name}.bbclass`;
      const r = which(String(d.getVar("BBPATH") ?? ""), file);
      for (const a of r.attempts) if (a !== r.found) session.markAbsent(a);
      found = r.found;
      if (found) break;
    }
    if (!found) {
      throw new ParseError(`Could not inherit file ${file}`, loc, {
        hint: `no ${name}.bbclass in classes/ of any BBPATH entry (BBPATH = ${d.getVar("BBPATH") ?? "unset"})`,
      });
    }
    const cache = (d.getVar("__inherit_cache", false) as string[] | undefined) ?? [];
    if (cache.includes(found)) continue;
    d.setVar("__inherit_cache", [...cache, found], { ignore: true });
    evaluateFile(found, d, session, loc);
  }
}

/** bb.parse.ast.MethodNode.eval. */
function defineFunction(st: Extract<Statement, { kind: "function" }>, d: DataStore): void {
  let name = st.name;
  let lang = st.lang;
  if (name === "__anonymous") {
    name = `__anon_${st.loc.line}_${st.loc.file.replace(TASK_KEYWORD_TR, "_")}`;
    lang = "js";
    const anon = [...((d.getVar("__BBANONFUNCS", false) as string[] | undefined) ?? [])];
    anon.push(name);
    d.setVar("__BBANONFUNCS", anon, { ignore: true });
  }
  if (d.getVar(name, false) !== undefined) {
    d.delVarFlag(name, "js", { ignore: true });
    d.delVarFlag(name, "fakeroot", { ignore: true });
  }
  if (lang === "js") d.setVarFlag(name, "js", "1", { ignore: true });
  if (st.fakeroot) d.setVarFlag(name, "fakeroot", "1", { ignore: true });
  d.setVarFlag(name, "func", 1, { ignore: true });
  d.setVar(name, st.body, { ...info(st.loc), parsing: true });
  d.setVarFlag(name, "filename", st.loc.file, { ignore: true });
  // as BitBake, `lineno` is the line of the function's header
  d.setVarFlag(name, "lineno", String(st.loc.line), { ignore: true });
}

function taskName(t: string): string {
  return t.startsWith("do_") ? t : `do_${t}`;
}

/** bb.build.addtask. */
export function addTask(task: string, before: string, after: string, d: DataStore): void {
  task = taskName(task);
  d.setVarFlag(task, "task", 1, { ignore: true });
  const tasks = (d.getVar("__BBTASKS", false) as string[] | undefined) ?? [];
  if (!tasks.includes(task)) d.setVar("__BBTASKS", [...tasks, task], { ignore: true });
  const existing = [...((d.getVarFlag(task, "deps", false) as string[] | undefined) ?? [])];
  for (const entry of after.split(/\s+/).filter(Boolean).map(taskName)) {
    if (!existing.includes(entry)) existing.push(entry);
  }
  d.setVarFlag(task, "deps", existing, { ignore: true });
  for (const entry of before.split(/\s+/).filter(Boolean).map(taskName)) {
    const deps = (d.getVarFlag(entry, "deps", false) as string[] | undefined) ?? [];
    if (!deps.includes(task)) d.setVarFlag(entry, "deps", [task, ...deps], { ignore: true });
  }
}

/** bb.build.deltask: the task and every dependency on it go; chains are not bridged. */
export function deleteTask(task: string, d: DataStore): void {
  task = taskName(task);
  const tasks = (d.getVar("__BBTASKS", false) as string[] | undefined) ?? [];
  if (tasks.includes(task)) {
    d.delVarFlag(task, "task", { ignore: true });
    d.setVar("__BBTASKS", tasks.filter((t) => t !== task), { ignore: true });
  }
  d.delVarFlag(task, "deps", { ignore: true });
  for (const t of (d.getVar("__BBTASKS", false) as string[] | undefined) ?? []) {
    const deps = (d.getVarFlag(t, "deps", false) as string[] | undefined) ?? [];
    if (deps.includes(task)) d.setVarFlag(t, "deps", deps.filter((x) => x !== task), { ignore: true });
  }
}

/** bb.parse.ast.ExportFuncsNode: `do_x` becomes a call of `<class>_do_x`. */
function exportFunctions(names: string, classname: string, d: DataStore, loc: Loc): void {
  for (const func of names.split(/\s+/).filter(Boolean)) {
    const called = `${classname}_${func}`;
    const sentinel = "    # Export function set\n";
    // JS has its own comment syntax, so a JS wrapper carries its own marker
    const jsSentinel = "    // Export function set\n";
    const current = d.getVar(func, false);
    // a definition of the recipe's (or a class's) own wins over exported ones
    if (current && !String(current).includes(sentinel) && !String(current).includes(jsSentinel)) continue;
    if (d.getVar(func, false) !== undefined) {
      d.delVarFlag(func, "js", { ignore: true });
      d.delVarFlag(func, "func", { ignore: true });
    }
    for (const flag of ["func", "js"]) {
      const v = d.getVarFlag(called, flag, false);
      if (v) d.setVarFlag(func, flag, v, { ignore: true });
    }
    for (const flag of ["dirs", "cleandirs", "fakeroot"]) {
      const v = d.getVarFlag(func, flag, false);
      if (v) d.setVarFlag(called, flag, v, { ignore: true });
    }
    d.setVarFlag(func, "filename", "autogenerated", { ignore: true });
    d.setVarFlag(func, "lineno", "1", { ignore: true });
    if (d.getVarFlag(called, "js", false)) {
      d.setVar(func, `${jsSentinel}    await kiln.execFunc(${JSON.stringify(called)}, d);\n`, { ...info(loc), parsing: true });
    } else {
      if (classname.includes("-")) {
        throw new ParseError(
          `the class name ${classname} contains '-' and exports the shell function ${called}; a '-' is not allowed in shell function names, so rename the class`,
          loc,
        );
      }
      d.setVar(func, `${sentinel}    ${called}\n`, { ...info(loc), parsing: true });
    }
  }
}

export function classNameOf(path: string): string {
  return basename(path, ".bbclass");
}
