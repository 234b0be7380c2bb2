/**
 * The scenequeue against BitBake's own run queue tests (lib/bb/tests/runqueue.py):
 * the same layer (fixtures/runqueue-tests, ported to JS), the same SSTATEVALID
 * settings, and the same expected sets of executed tasks.
 */
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { clearFileCache } from "@kiln/core";
import { main } from "@kiln/cli";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const LAYER = join(root, "fixtures", "runqueue-tests");

const alltasks = [
  "package",
  "fetch",
  "unpack",
  "patch",
  "prepare_recipe_sysroot",
  "configure",
  "compile",
  "install",
  "packagedata",
  "package_qa",
  "package_write_rpm",
  "package_write_ipk",
  "populate_sysroot",
  "build",
];
const a1Valid = "a1:do_package a1:do_package_qa a1:do_packagedata a1:do_package_write_ipk a1:do_package_write_rpm a1:do_populate_lic a1:do_populate_sysroot";
const b1Valid = a1Valid.replaceAll("a1:", "b1:");
const all = (pn: string) => alltasks.map((t) => `${pn}:${t}`);
const without = (list: string[], ...drop: string[]) => list.filter((t) => !drop.includes(t));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "kiln-runqueue-"));
});
afterEach(() => {
  if (!process.env.KILN_KEEP_TMP) rmSync(dir, { recursive: true, force: true });
});

async function bitbake(args: string[], sstatevalid = "", extra: Record<string, string> = {}): Promise<{ tasks: string[]; code: number; output: string }> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/root",
    BBPATH: LAYER,
    BB_ENV_PASSTHROUGH_ADDITIONS: ["SSTATEVALID", "SLOWTASKS", ...Object.keys(extra)].join(" "),
    SSTATEVALID: sstatevalid,
    SLOWTASKS: "",
    ...extra,
  };
  clearFileCache();
  let output = "";
  const code = await main(args, { cwd: dir, env, io: { out: (t) => (output += t), err: (t) => (output += t) } });
  const log = join(dir, "task.log");
  const tasks = existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : [];
  rmSync(log, { force: true });
  return { tasks, code, output };
}

const sorted = (xs: string[]) => [...new Set(xs)].sort();

interface Case {
  name: string;
  args: string[];
  valid: string;
  expected: string[];
  extra?: Record<string, string>;
}

const CASES: Case[] = [
  { name: "test_no_setscenevalid", args: ["a1"], valid: "", expected: all("a1") },
  {
    name: "test_single_setscenevalid",
    args: ["a1"],
    valid: "a1:do_package",
    expected: ["a1:package_setscene", ...without(all("a1"), "a1:package")],
  },
  {
    name: "test_intermediate_setscenevalid",
    args: ["a1"],
    valid: "a1:do_package a1:do_populate_sysroot",
    expected: ["a1:package_setscene", "a1:packagedata", "a1:package_qa", "a1:package_write_rpm", "a1:package_write_ipk", "a1:populate_sysroot_setscene", "a1:build"],
  },
  {
    name: "test_intermediate_notcovered",
    args: ["a1"],
    valid: "a1:do_package_qa a1:do_packagedata a1:do_package_write_ipk a1:do_package_write_rpm a1:do_populate_lic a1:do_populate_sysroot",
    expected: ["a1:package_write_ipk_setscene", "a1:package_write_rpm_setscene", "a1:packagedata_setscene", "a1:package_qa_setscene", "a1:build", "a1:populate_sysroot_setscene"],
  },
  {
    name: "test_all_setscenevalid",
    args: ["a1"],
    valid: a1Valid,
    expected: ["a1:package_write_ipk_setscene", "a1:package_write_rpm_setscene", "a1:packagedata_setscene", "a1:package_qa_setscene", "a1:build", "a1:populate_sysroot_setscene"],
  },
  { name: "test_no_settasks", args: ["a1", "-c", "patch"], valid: a1Valid, expected: ["a1:fetch", "a1:unpack", "a1:patch"] },
  {
    name: "test_mix_covered_notcovered",
    args: ["a1:do_patch", "a1:do_populate_sysroot"],
    valid: a1Valid,
    expected: ["a1:fetch", "a1:unpack", "a1:patch", "a1:populate_sysroot_setscene"],
  },
  {
    name: "test_mixed_direct_tasks_setscene_tasks",
    args: ["c1:do_patch", "a1"],
    valid: a1Valid,
    expected: [
      "c1:fetch",
      "c1:unpack",
      "c1:patch",
      "a1:package_write_ipk_setscene",
      "a1:package_write_rpm_setscene",
      "a1:packagedata_setscene",
      "a1:package_qa_setscene",
      "a1:build",
      "a1:populate_sysroot_setscene",
    ],
  },
  {
    name: "test_slow_setscene",
    args: ["a1"],
    valid: "a1:do_package",
    extra: { SLOWTASKS: "a1:package_setscene" },
    expected: ["a1:package_setscene", ...without(all("a1"), "a1:package")],
  },
  {
    name: "test_no_setscenevalid_withdeps",
    args: ["b1"],
    valid: "",
    expected: [...without(all("a1"), "a1:build", "a1:package_qa"), ...all("b1")],
  },
  {
    name: "test_single_a1_setscenevalid_withdeps",
    args: ["b1"],
    valid: "a1:do_package",
    expected: ["a1:package_setscene", ...without(all("a1"), "a1:package", "a1:build", "a1:package_qa"), ...all("b1")],
  },
  {
    name: "test_single_b1_setscenevalid_withdeps",
    args: ["b1"],
    valid: "b1:do_package",
    expected: [...without(all("a1"), "a1:build", "a1:package_qa"), "b1:package_setscene", ...without(all("b1"), "b1:package")],
  },
  {
    name: "test_intermediate_setscenevalid_withdeps",
    args: ["b1"],
    valid: "a1:do_package a1:do_populate_sysroot b1:do_package",
    expected: [
      "a1:package_setscene",
      "a1:packagedata",
      "a1:package_write_rpm",
      "a1:package_write_ipk",
      "a1:populate_sysroot_setscene",
      "b1:package_setscene",
      ...without(all("b1"), "b1:package"),
    ],
  },
  {
    name: "test_all_setscenevalid_withdeps",
    args: ["b1"],
    valid: `${a1Valid} ${b1Valid}`,
    expected: [
      "a1:package_write_ipk_setscene",
      "a1:package_write_rpm_setscene",
      "a1:packagedata_setscene",
      "b1:build",
      "a1:populate_sysroot_setscene",
      "b1:package_write_ipk_setscene",
      "b1:package_write_rpm_setscene",
      "b1:packagedata_setscene",
      "b1:package_qa_setscene",
      "b1:populate_sysroot_setscene",
    ],
  },
];

describe("scenequeue: BitBake's run queue test cases", () => {
  it.each(CASES)("$name", async ({ args, valid, expected, extra }) => {
    const r = await bitbake(args, valid, extra);
    expect(r.code, r.output).toBe(0);
    expect(sorted(r.tasks), r.output).toEqual(sorted(expected));
  });

  it("test_setscenewhitelist: BB_SETSCENE_ENFORCE runs no real task; listed ones are allowed not to be restored", async () => {
    const r = await bitbake(["a1"], "a1:do_package a1:do_package_qa a1:do_packagedata a1:do_package_write_ipk a1:do_populate_lic a1:do_populate_sysroot", {
      BB_SETSCENE_ENFORCE: "1",
      BB_SETSCENE_ENFORCE_IGNORE_TASKS: "a1:do_package_write_rpm a1:do_build",
    });
    expect(r.code, r.output).toBe(0);
    expect(sorted(r.tasks)).toEqual(
      sorted(["a1:packagedata_setscene", "a1:package_qa_setscene", "a1:package_write_ipk_setscene", "a1:populate_sysroot_setscene", "a1:package_setscene"]),
    );
  });

  it("BB_SETSCENE_ENFORCE without the ignore list is an error naming the task that would have to run", async () => {
    const r = await bitbake(["a1"], "a1:do_package a1:do_package_qa a1:do_packagedata a1:do_package_write_ipk a1:do_populate_lic a1:do_populate_sysroot", {
      BB_SETSCENE_ENFORCE: "1",
    });
    expect(r.code).toBe(1);
    expect(r.output).toMatch(/a1:do_package_write_rpm was not restored from shared state/);
    expect(r.tasks).not.toContain("a1:package_write_rpm");
  });

  it("a setscene stamp makes the next build restore nothing and build nothing", async () => {
    const first = await bitbake(["a1"], a1Valid);
    expect(first.code, first.output).toBe(0);
    const again = await bitbake(["a1"], a1Valid);
    expect(again.code, again.output).toBe(0);
    expect(again.tasks).toEqual([]);
  });

  it("--setscene-only restores what it can and runs no real task; --skip-setscene builds for real", async () => {
    const only = await bitbake(["a1", "--setscene-only"], "a1:do_package a1:do_populate_sysroot");
    expect(only.code, only.output).toBe(0);
    expect(sorted(only.tasks)).toEqual(sorted(["a1:package_setscene", "a1:populate_sysroot_setscene"]));
    rmSync(join(dir, "stamps"), { recursive: true, force: true });
    const skip = await bitbake(["a1", "--skip-setscene"], a1Valid);
    expect(skip.code, skip.output).toBe(0);
    expect(sorted(skip.tasks)).toEqual(sorted(all("a1")));
  });
});
