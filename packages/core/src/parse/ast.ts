/** The statements a metadata file parses into. Evaluation is in evaluate.ts. */

export interface Loc {
  file: string;
  line: number;
  column: number;
}

export type AssignOp = "=" | "?=" | "??=" | ":=" | "+=" | "=+" | ".=" | "=.";

export interface AssignStmt {
  kind: "assign";
  loc: Loc;
  exported: boolean;
  /** The variable name as written (may hold `${...}` and `:override` parts). */
  name: string;
  flag?: string;
  op: AssignOp;
  value: string;
}

export interface ExportStmt {
  kind: "export";
  loc: Loc;
  name: string;
}

export interface UnsetStmt {
  kind: "unset";
  loc: Loc;
  name: string;
  flag?: string;
}

export interface IncludeStmt {
  kind: "include";
  loc: Loc;
  /** Unexpanded file list. */
  what: string;
  required: boolean;
  /** include_all: the file from every BBPATH entry that has it. */
  all?: boolean;
}

export interface InheritStmt {
  kind: "inherit";
  loc: Loc;
  what: string;
  deferred: boolean;
}

export interface FunctionStmt {
  kind: "function";
  loc: Loc;
  /** `__anonymous` for anonymous JS functions. */
  name: string;
  lang: "sh" | "js";
  fakeroot: boolean;
  body: string;
  /** Line of the first body line. */
  bodyLine: number;
}

export interface JsDefStmt {
  kind: "jsdef";
  loc: Loc;
  name: string;
  params: string;
  async: boolean;
  body: string;
  bodyLine: number;
}

export interface AddTaskStmt {
  kind: "addtask";
  loc: Loc;
  tasks: string;
  before: string;
  after: string;
}

export interface DelTaskStmt {
  kind: "deltask";
  loc: Loc;
  tasks: string;
}

export interface AddHandlerStmt {
  kind: "addhandler";
  loc: Loc;
  names: string;
}

export interface ExportFunctionsStmt {
  kind: "exportfunctions";
  loc: Loc;
  names: string;
  /** The class the statement appears in (BitBake's __classname__). */
  classname: string;
}

export type Statement =
  | AssignStmt
  | ExportStmt
  | UnsetStmt
  | IncludeStmt
  | InheritStmt
  | FunctionStmt
  | JsDefStmt
  | AddTaskStmt
  | DelTaskStmt
  | AddHandlerStmt
  | ExportFunctionsStmt;

/** Which grammar a file is read with: `.conf` files allow no functions or tasks. */
export type Syntax = "conf" | "recipe";
