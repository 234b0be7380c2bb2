/**
 * One error model for kiln (CONVENTIONS 10): every failure a user can cause is a
 * KilnError with a stable `code`; the CLI prints `message` and `hint`, `--json`
 * prints the code, `-D` the stack. Tests assert codes, not prose.
 */
export type KilnErrorCode =
  | "DEPENDENCY_CYCLE"
  | "DEPENDENCY_ERROR"
  | "EXPANSION_ERROR"
  | "FETCH_ERROR"
  | "FATAL"
  | "HOOK_ERROR"
  | "JS_ERROR"
  | "LAYER_ERROR"
  | "NOT_FOUND"
  | "PARSE_ERROR"
  | "SKIP_RECIPE"
  | "TASK_ERROR"
  | "USAGE_ERROR";

export interface KilnErrorOptions {
  hint?: string;
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class KilnError extends Error {
  readonly code: KilnErrorCode;
  readonly hint?: string;
  readonly details?: Record<string, unknown>;

  constructor(code: KilnErrorCode, message: string, options: KilnErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }
}

/** A location in a metadata file; line and column are 1-based. */
export interface SourceLocation {
  file: string;
  line: number;
  column?: number;
}

export function formatLocation(loc: SourceLocation): string {
  return loc.column ? `${loc.file}:${loc.line}:${loc.column}` : `${loc.file}:${loc.line}`;
}

/** Bad metadata: a syntax error, a missing required file, an unknown class. */
export class ParseError extends KilnError {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly reason: string;

  constructor(reason: string, loc: SourceLocation, options: KilnErrorOptions = {}) {
    super("PARSE_ERROR", `${formatLocation({ ...loc, column: loc.column ?? 1 })}: ${reason}`, options);
    this.file = loc.file;
    this.line = loc.line;
    this.column = loc.column ?? 1;
    this.reason = reason;
  }
}

/** A variable whose value cannot be expanded (self-reference, failing inline code). */
export class ExpansionError extends KilnError {
  readonly variable: string | undefined;
  readonly expression: string;

  constructor(variable: string | undefined, expression: string, reason: string, options: KilnErrorOptions = {}) {
    const what = variable ? `variable ${variable}` : "expression";
    super("EXPANSION_ERROR", `Failure expanding ${what}: ${reason}`, {
      ...options,
      details: { variable, expression, ...options.details },
    });
    this.variable = variable;
    this.expression = expression;
  }
}

/** An exception thrown by JavaScript code in metadata, attributed to its file and line. */
export class JsError extends KilnError {
  readonly file?: string;
  readonly line?: number;
  readonly functionName: string;

  constructor(functionName: string, loc: SourceLocation | undefined, cause: unknown) {
    const where = loc ? `${formatLocation(loc)}: ` : "";
    const why = cause instanceof Error ? cause.message : String(cause);
    super("JS_ERROR", `${where}error in ${functionName}: ${why}`, { cause });
    this.file = loc?.file;
    this.line = loc?.line;
    this.functionName = functionName;
  }
}

export class LayerError extends KilnError {
  constructor(message: string, options: KilnErrorOptions = {}) {
    super("LAYER_ERROR", message, options);
  }
}

export class NotFoundError extends KilnError {
  constructor(message: string, options: KilnErrorOptions = {}) {
    super("NOT_FOUND", message, options);
  }
}

export class UsageError extends KilnError {
  constructor(message: string, options: KilnErrorOptions = {}) {
    super("USAGE_ERROR", message, options);
  }
}

/** `kiln.fatal()` from metadata code: stop with this message. */
export class FatalError extends KilnError {
  constructor(message: string) {
    super("FATAL", message);
  }
}

/** Thrown (as BitBake's SkipRecipe) to mark a recipe as not buildable; not a failure. */
export class SkipRecipe extends KilnError {
  constructor(reason: string) {
    super("SKIP_RECIPE", reason);
  }
}

/** A dependency that cannot be resolved: nothing provides it, or several do with no preference. */
export class DependencyError extends KilnError {
  constructor(message: string, options: KilnErrorOptions = {}) {
    super("DEPENDENCY_ERROR", message, options);
  }
}

/** Tasks that depend on each other in a loop; `cycle` lists them in order, the first repeated last. */
export class DependencyCycleError extends KilnError {
  readonly cycle: string[];
  constructor(cycle: string[]) {
    super("DEPENDENCY_CYCLE", `Dependency loop in the task graph: ${cycle.join(" -> ")}`, {
      hint: "check the tasks' after/before, [depends], [deptask] and [recrdeptask]",
      details: { cycle },
    });
    this.cycle = cycle;
  }
}

/** A task failed; `task` is its `PN:do_task` id and `logFile` the log with its output. */
export class TaskError extends KilnError {
  readonly task: string;
  readonly logFile?: string;
  constructor(task: string, message: string, options: KilnErrorOptions & { logFile?: string } = {}) {
    super("TASK_ERROR", message, options);
    this.task = task;
    this.logFile = options.logFile;
  }
}

/** A source could not be fetched, failed its checksum, or could not be unpacked or patched. */
export class FetchError extends KilnError {
  readonly url?: string;
  constructor(message: string, options: KilnErrorOptions & { url?: string } = {}) {
    super("FETCH_ERROR", message, options);
    this.url = options.url;
  }
}
