/**
 * Printing variables the way `bitbake -e` does: history comments (when recorded),
 * then `VAR="value"` with quotes, newlines and `$` escaped for a shell, `export`
 * in front of exported ones, and functions in full after the variables.
 */
import type { DataStore, HistoryEvent } from "./datastore.js";

const comment = (s: string) => s.replace(/\n/g, "\n#     ");

export function emitHistory(d: DataStore, name: string, events: HistoryEvent[] = d.getHistory(name)): string {
  const raw = d.getVar(name, false);
  let out = "";
  if (events.length) {
    out += events.length === 1 ? `#\n# $${name}\n` : `#\n# $${name} [${events.length} operations]\n`;
    for (const e of events) {
      const where = e.file ? `${e.file}:${e.line ?? 0}` : "[unknown]";
      const flag = e.flag ? `[${e.flag}] ` : "";
      out += `#   ${e.op} ${where}\n#     ${flag}"${comment(e.detail ?? "")}"\n`;
    }
    if (events.length > 1) out += `# pre-expansion value:\n#   "${String(raw ?? "").replace(/\n/g, "\n#")}"\n`;
  } else {
    out += `#\n# $${name}\n#   [no history recorded]\n#\n#   "${String(raw ?? "").replace(/\n/g, "\n#")}"\n`;
  }
  return out;
}

export function shellQuote(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, " \\\n").replace(/\$/g, "\\$");
}

function emitFunction(d: DataStore, name: string): string {
  const body = String(d.getVar(name, false) ?? "").replace(/\n+$/, "");
  const where = `# line: ${d.getVarFlag(name, "lineno", false) ?? "?"}, file: ${d.getVarFlag(name, "filename", false) ?? "?"}\n`;
  if (d.getVarFlag(name, "jsdef", false) !== undefined) {
    return `${where}jsdef ${name}(${d.getVarFlag(name, "jsdef", false)}) {\n${body}\n}\n`;
  }
  if (d.getVarFlag(name, "js", false)) return `${where}js ${name} () {\n${body}\n}\n`;
  return `${where}${name}() {\n${d.expand(body, name)}\n}\n`;
}

/** One variable as `-e` prints it; "" when it has no value. */
export function emitVariable(d: DataStore, name: string, withHistory: boolean): string {
  let value: unknown;
  try {
    value = d.getVar(name);
  } catch (err) {
    return `# expansion of ${name} threw ${(err as Error).name}: ${(err as Error).message}\n`;
  }
  if (value === undefined || value === null) return "";
  let out = withHistory ? emitHistory(d, name) : "";
  if (d.getVarFlag(name, "func", false)) return out + emitFunction(d, name);
  if (typeof value !== "string") return "";
  if (/[-.{}+]/.test(name)) return out; // not a valid shell name: history only, as BitBake
  if (d.getVarFlag(name, "unexport", false)) return `${out}unset ${name}\n`;
  if (d.getVarFlag(name, "export", false)) out += "export ";
  return `${out}${name}="${shellQuote(value)}"\n`;
}

/** The whole environment: variables sorted by name, then functions. */
export function emitEnvironment(d: DataStore, withHistory: boolean): string {
  const keys = d.keys().filter((k) => !k.startsWith("__")).sort();
  const funcs = keys.filter((k) => d.getVarFlag(k, "func", false));
  const vars = keys.filter((k) => !d.getVarFlag(k, "func", false));
  let out = "";
  for (const k of vars) out += emitVariable(d, k, withHistory);
  for (const k of funcs) out += "\n" + emitVariable(d, k, withHistory);
  return out;
}
