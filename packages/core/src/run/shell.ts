/**
 * Shell functions (BitBake's emit_func + exec_func_shell): a run script with the
 * exported variables and the shell functions the function reaches, run by
 * `bash -e` in its own process group (started by the spawner process), output
 * appended to the task log.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { replaceSymlinkSync } from "./fs-small.js";
import { spawnTask } from "./spawner.js";
import { join } from "node:path";
import type { DataStore } from "../data/datastore.js";
import { TaskError } from "../errors.js";
import { shellDeps } from "../deps/shell.js";

const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A value inside double quotes, exactly as written. */
function dq(value: string): string {
  return `"${value.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`;
}

function isShellFunction(d: DataStore, name: string): boolean {
  return !!d.getVarFlag(name, "func", false) && !d.getVarFlag(name, "js", false);
}

/**
 * Shell functions `func` reaches: the commands of its expanded body (parsed, as for
 * signatures) that name shell functions, and `[vardeps]`, transitively.
 * Needs initShellParser() to have resolved.
 */
export function reachedFunctions(d: DataStore, func: string): string[] {
  const seen = new Set<string>([func]);
  const order: string[] = [];
  const queue = [func];
  while (queue.length) {
    const name = queue.shift() as string;
    const body = String(d.getVar(name) ?? "");
    const candidates = [...shellDeps(body).execs, ...String(d.getVarFlag(name, "vardeps") ?? "").split(/\s+/)];
    for (const word of candidates) {
      if (!word || seen.has(word) || !isShellFunction(d, word)) continue;
      seen.add(word);
      order.push(word);
      queue.push(word);
    }
  }
  return order.sort();
}

/** `export NAME="value"` lines for every exported variable (unexport wins), sorted. */
export function exportedVariables(d: DataStore): string {
  const lines: string[] = [];
  for (const key of [...d.keys()].sort()) {
    if (key.startsWith("__") || !SHELL_NAME.test(key)) continue;
    if (d.getVarFlag(key, "unexport", false)) {
      lines.push(`unset ${key}`);
      continue;
    }
    if (!d.getVarFlag(key, "export", false) || d.getVarFlag(key, "func", false)) continue;
    let value: unknown;
    try {
      value = d.getVar(key);
    } catch {
      lines.push(`# ${key} could not be expanded`);
      continue;
    }
    if (value === undefined || value === null) continue;
    lines.push(`export ${key}=${dq(String(value))}`);
  }
  return lines.join("\n");
}

export interface ShellScriptOptions {
  cwd?: string;
  umask?: string;
}

export function shellScript(d: DataStore, func: string, options: ShellScriptOptions = {}): string {
  const parts = [
    "#!/bin/bash",
    // as BitBake's trap: say which exit code stopped the script
    `trap 'ret=$?; trap "" 0; if [ $ret -ne 0 ]; then echo "WARNING: exit code $ret from a shell command." >&2; fi; exit $ret' 0`,
    exportedVariables(d),
    "",
  ];
  for (const name of [func, ...reachedFunctions(d, func)]) {
    parts.push(`${name}() {\n${String(d.getVar(name) ?? "")}\n}\n`);
  }
  if (options.umask) parts.push(`umask ${options.umask}`);
  if (options.cwd) parts.push(`cd ${dq(options.cwd)}`);
  parts.push(func, "");
  return parts.join("\n");
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export interface ShellRun {
  /** Kill the script's whole process group. */
  kill(signal?: NodeJS.Signals): void;
  done: Promise<void>;
}

/** A message the script sent with bbnote/bbwarn/bberror/bbplain/bbfatal (BitBake's LOGFIFO commands). */
export interface ShellMessage {
  kind: string;
  text: string;
}

/**
 * Write `${T}/run.<func>.<pid>` and run it with `bash -e`, appending its output to
 * `logFile`. Rejects with a TaskError naming the script and exit code.
 */
function deliverMessages(file: string, onMessages?: (messages: ShellMessage[]) => void): void {
  let raw: string;
  try {
    raw = readFileSync(file, "utf8");
  } catch {
    return; // none sent
  }
  rmSync(file, { force: true });
  const list = raw
    .split("\0")
    .filter(Boolean)
    .map((m) => {
      const space = m.indexOf(" ");
      return space < 0 ? { kind: m, text: "" } : { kind: m.slice(0, space), text: m.slice(space + 1) };
    });
  if (list.length) onMessages?.(list);
}

export function runShell(
  d: DataStore,
  func: string,
  opts: {
    tempDir: string;
    logFile: string;
    env: Record<string, string>;
    cwd?: string;
    umask?: string;
    taskId: string;
    runId: number;
    /** Called with the bb* messages the script sent, once it has ended (either way). */
    onMessages?: (messages: ShellMessage[]) => void;
  },
): ShellRun {
  const runFile = join(opts.tempDir, `run.${func}.${opts.runId}`);
  // the base class's bbnote/bbwarn/... append "<command> <text>\0" here (BitBake reads
  // them from a fifo as they come; a file read when the script ends costs no process)
  const messages = join(opts.tempDir, `messages.${func}.${opts.runId}`);
  // a scratch file named by pid, as BitBake's: written in place
  writeFileSync(runFile, shellScript(d, func, { cwd: opts.cwd, umask: opts.umask }), { mode: 0o755 });
  // run.<func> points at the latest script, as BitBake's
  replaceSymlinkSync(basename(runFile), join(opts.tempDir, `run.${func}`));
  const proc = spawnTask({ file: "bash", args: ["-e", runFile], cwd: opts.tempDir, env: { ...opts.env, BB_LOGMESSAGES: messages }, log: opts.logFile });
  let pid: number | undefined;
  let killedWith: NodeJS.Signals | undefined;
  void proc.started.then((p) => {
    pid = p;
    // an interrupt that came while it was starting
    if (killedWith) killGroup(p, killedWith);
  });
  const done = (async () => {
    let result: { code: number | null; signal: NodeJS.Signals | null };
    try {
      result = await proc.exited;
    } catch (err) {
      throw new TaskError(opts.taskId, `Could not run '${runFile}': ${(err as Error).message}`, { logFile: opts.logFile });
    } finally {
      deliverMessages(messages, opts.onMessages);
    }
    if (result.code !== 0 || result.signal) {
      const how = result.signal ? `was killed by ${result.signal}` : `failed with exit code ${result.code}`;
      throw new TaskError(opts.taskId, `Execution of '${runFile}' ${how}`, { logFile: opts.logFile });
    }
  })();
  return {
    done,
    kill(signal = "SIGTERM") {
      killedWith = signal;
      if (pid) killGroup(pid, signal);
    },
  };
}
