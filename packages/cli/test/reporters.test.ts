import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createHooks, type BuildCompletedEvent, type BuildEvent, type KilnHooks } from "@kiln/core";
import { attachReporter, loadLiveReporter, reporterKind } from "../src/reporters/index.js";

// the live reporter's terminal library is imported on demand, as build-command does
beforeAll(() => loadLiveReporter());
import type { Output } from "../src/output.js";

const T0 = Date.UTC(2024, 0, 1);
const LOG = "/build/tmp/work/hello/1.0/temp/log.do_compile.42";
const ref = (pn: string, task: string) => ({ id: `${pn}:${task}`, pn, task, file: `/meta/recipes/${pn}_1.0.bb` });

const started: BuildEvent = { type: "BuildStarted", targets: ["hello"], total: 5, toRun: 3, threads: 4, time: T0 };
const startHello: BuildEvent = { type: "TaskStarted", ...ref("hello", "do_compile"), number: 1, toRun: 3, logFile: LOG, time: T0 };
const startLib: BuildEvent = { type: "TaskStarted", ...ref("lib", "do_install"), number: 2, toRun: 3, time: T0 };
const warning: BuildEvent = { type: "Log", level: "warn", message: "FLAGGED is deprecated", task: "lib:do_install", time: T0 };
const libDone: BuildEvent = { type: "TaskSucceeded", ...ref("lib", "do_install"), elapsedMs: 800, time: T0 };
const helloFailed: BuildEvent = {
  type: "TaskFailed",
  ...ref("hello", "do_compile"),
  elapsedMs: 12_000,
  message: "exit code 1",
  logFile: LOG,
  logTail: ["gcc: error: hello.c: No such file or directory", "make: *** [all] Error 1"],
  time: T0,
};
const debug: BuildEvent = { type: "Log", level: "debug", message: "removing workdir", time: T0 };
const completed: BuildCompletedEvent = {
  type: "BuildCompleted",
  targets: ["hello"],
  total: 5,
  current: 2,
  run: 2,
  succeeded: 1,
  failed: 1,
  notRun: 1,
  failedTasks: [{ id: "hello:do_compile", logFile: LOG }],
  interrupted: false,
  elapsedMs: 13_000,
  time: T0,
};
const SEQUENCE = [started, startHello, startLib, warning, libDone, helloFailed, debug, completed];

function fire(hooks: KilnHooks, e: BuildEvent): void {
  switch (e.type) {
    case "BuildStarted": return hooks.buildStarted.call(e);
    case "TaskStarted": return hooks.taskStarted.call(e);
    case "TaskSucceeded": return hooks.taskSucceeded.call(e);
    case "TaskFailed": return hooks.taskFailed.call(e);
    case "BuildCompleted": return hooks.buildCompleted.call(e);
    case "Log": return hooks.log.call(e);
  }
}

/** Output that records which stream each line went to, in order. */
function capture() {
  const lines: [keyof Output, string][] = [];
  const push = (to: keyof Output) => (t: string) => {
    for (const l of t.split("\n").slice(0, -1)) lines.push([to, l]);
  };
  return { io: { out: push("out"), err: push("err") } as Output, lines };
}

const SUMMARY = [
  "NOTE: Tasks Summary: Attempted 4 tasks of which 2 didn't need to be rerun and 1 failed.",
  "",
  "Summary: 1 task failed:",
  "  hello:do_compile",
  `    log: ${LOG}`,
  "Summary: There was 1 WARNING message.",
  "Summary: There was 1 ERROR message.",
];

describe("reporterKind", () => {
  it("prefers --json, then live on a TTY, else plain", () => {
    expect(reporterKind({ json: true, isTTY: true })).toBe("json");
    expect(reporterKind({ isTTY: true })).toBe("live");
    expect(reporterKind({ json: false, isTTY: false })).toBe("plain");
  });
});

describe("plain reporter", () => {
  it("prints BitBake-style lines in order, errors on stderr", () => {
    const hooks = createHooks();
    const { io, lines } = capture();
    const r = attachReporter("plain", hooks, io);
    for (const e of SEQUENCE) fire(hooks, e);
    r.close();
    expect(lines).toEqual([
      ["out", "NOTE: Executing Tasks (3 of 5 need to run)"],
      ["out", "NOTE: Running task 1 of 3: hello:do_compile"],
      ["out", "NOTE: Running task 2 of 3: lib:do_install"],
      ["out", "WARNING: lib:do_install: FLAGGED is deprecated"],
      ["out", "NOTE: Task lib:do_install succeeded"],
      ["err", "ERROR: Task hello:do_compile failed: exit code 1"],
      ["err", `ERROR: Logfile of failure stored in: ${LOG}`],
      ["err", "Log data follows:"],
      ["err", "  | gcc: error: hello.c: No such file or directory"],
      ["err", "  | make: *** [all] Error 1"],
      ...SUMMARY.map((l) => ["out", l]),
    ]);
    expect(lines.join("")).not.toContain("\u001b");
  });

  it("shows debug messages only when verbose, and stops listening after close", () => {
    const hooks = createHooks();
    const { io, lines } = capture();
    const r = attachReporter("plain", hooks, io, { verbose: true });
    fire(hooks, debug);
    r.close();
    fire(hooks, warning);
    expect(lines).toEqual([["out", "DEBUG: removing workdir"]]);
  });
});

describe("summary", () => {
  it("reports success, plurals and interruption", () => {
    const hooks = createHooks();
    const { io, lines } = capture();
    attachReporter("plain", hooks, io);
    fire(hooks, { ...completed, failed: 0, notRun: 0, failedTasks: [] });
    expect(lines.map((l) => l[1])).toEqual(["NOTE: Tasks Summary: Attempted 5 tasks of which 2 didn't need to be rerun and all succeeded."]);

    lines.length = 0;
    const failedTasks = [...completed.failedTasks, { id: "lib:do_install" }];
    fire(hooks, { ...completed, failed: 2, failedTasks, interrupted: true });
    expect(lines.map((l) => l[1])).toEqual([
      "NOTE: Tasks Summary: Attempted 4 tasks of which 2 didn't need to be rerun and 2 failed.",
      "NOTE: Build interrupted",
      "",
      "Summary: 2 tasks failed:",
      "  hello:do_compile",
      `    log: ${LOG}`,
      "  lib:do_install",
    ]);
  });
});

describe("json reporter", () => {
  it("writes each event as one JSON line on stdout", () => {
    const hooks = createHooks();
    const { io, lines } = capture();
    const r = attachReporter("json", hooks, io);
    for (const e of SEQUENCE) fire(hooks, e);
    r.close();
    expect(lines.every(([to]) => to === "out")).toBe(true);
    expect(lines.map(([, l]) => JSON.parse(l))).toEqual(SEQUENCE);
  });
});

/**
 * A minimal terminal: applies the cursor codes log-update writes (erase line, cursor
 * up, column 0), so tests see the screen a user sees rather than raw escapes.
 */
function terminal() {
  const screen: string[] = [""];
  let row = 0;
  const write = (chunk: string) => {
    for (const tok of chunk.match(/\u001b\[[0-9?]*[A-Za-z]|\n|[^\u001b\n]+/g) ?? []) {
      if (tok === "\n") screen[++row] ??= "";
      else if (tok === "\u001b[2K") screen[row] = "";
      else if (/^\u001b\[\d*A$/.test(tok)) row -= Number(tok.slice(2, -1) || 1);
      else if (tok.startsWith("\u001b")) continue; // column 0, cursor show/hide
      else screen[row] += tok;
    }
    return true;
  };
  const stream = { write, columns: 100, rows: 30, isTTY: true } as unknown as NodeJS.WriteStream;
  const io: Output = { out: write, err: write };
  /** Screen rows up to the cursor's line, trailing blank one dropped. */
  const view = () => screen.slice(0, row + 1).filter((l, i) => i < row || l !== "");
  return { stream, io, view };
}

describe("live reporter", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("keeps a status area of running tasks below the scrolling log", () => {
    vi.useFakeTimers({ now: T0 });
    const hooks = createHooks();
    const term = terminal();
    const r = attachReporter("live", hooks, term.io, { stream: term.stream });

    fire(hooks, started);
    fire(hooks, startHello);
    vi.advanceTimersByTime(5_000);
    fire(hooks, startLib);
    vi.advanceTimersByTime(7_000); // the timer redraws the elapsed times
    expect(term.view()).toEqual([
      "NOTE: Executing Tasks (3 of 5 need to run)",
      "Currently 2 running tasks (0 of 3)",
      "hello:do_compile (12s)",
      "lib:do_install (7s)",
    ]);

    fire(hooks, warning);
    fire(hooks, libDone);
    fire(hooks, helloFailed);
    expect(term.view()).toEqual([
      "NOTE: Executing Tasks (3 of 5 need to run)",
      "WARNING: lib:do_install: FLAGGED is deprecated",
      "ERROR: Task hello:do_compile failed: exit code 1",
      `ERROR: Logfile of failure stored in: ${LOG}`,
      "Log data follows:",
      "  | gcc: error: hello.c: No such file or directory",
      "  | make: *** [all] Error 1",
      "No currently running tasks (2 of 3)",
    ]);

    fire(hooks, completed);
    expect(vi.getTimerCount()).toBe(0);
    const screen = term.view();
    expect(screen.slice(-SUMMARY.length)).toEqual(SUMMARY);
    expect(screen.join("\n")).not.toMatch(/running tasks/);
    r.close();
  });

  it("close() stops the timer and clears the status area mid-build", () => {
    vi.useFakeTimers({ now: T0 });
    const hooks = createHooks();
    const term = terminal();
    const r = attachReporter("live", hooks, term.io, { stream: term.stream });
    fire(hooks, started);
    fire(hooks, startHello);
    expect(vi.getTimerCount()).toBe(1);
    expect(term.view()).toContain("hello:do_compile (0s)");

    r.close();
    expect(vi.getTimerCount()).toBe(0);
    expect(term.view()).toEqual(["NOTE: Executing Tasks (3 of 5 need to run)"]);
    fire(hooks, warning);
    expect(term.view()).toEqual(["NOTE: Executing Tasks (3 of 5 need to run)"]);
  });
});
