/**
 * Signature commands: `kiln dumpsig FILE`, `kiln diffsigs A B`, `kiln diffsigs -t
 * RECIPE TASK` (the two newest siginfo of a task), and the `-S printdiff` report
 * (for each task a build would run, what changed since its newest siginfo).
 */
import { existsSync } from "node:fs";
import {
  compareSiginfo,
  dependencySiginfoPath,
  describeSiginfo,
  findSiginfos,
  initShellParser,
  Kiln,
  NotFoundError,
  planRun,
  readSiginfo,
  siginfoPath,
  taskName,
  UsageError,
  type Siginfo,
  type TaskGraph,
} from "@kiln/core";
import { cliKilnOptions } from "./plugins.js";
import { EXIT } from "./errors.js";
import type { Output } from "./output.js";

export interface SigContext {
  io: Output;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

/** Follow a changed dependency into its two siginfo files, when both exist. */
function dependencyPair(id: string, a: Siginfo, b: Siginfo): [Siginfo, Siginfo] | undefined {
  const pa = dependencySiginfoPath(a, id);
  const pb = dependencySiginfoPath(b, id);
  if (!pa || !pb || !existsSync(pa) || !existsSync(pb)) return undefined;
  return [readSiginfo(pa), readSiginfo(pb)];
}

export function dumpsig(ctx: SigContext, file: string): number {
  for (const line of describeSiginfo(readSiginfo(file))) ctx.io.out(`${line}\n`);
  return EXIT.OK;
}

export async function diffsigs(ctx: SigContext, files: string[], task?: { recipe: string; task: string }): Promise<number> {
  let pair: [string, string];
  if (task) {
    const kiln = new Kiln(cliKilnOptions(ctx));
    const info = await kiln.findRecipe(task.recipe);
    const name = taskName(task.task);
    const found = findSiginfos(info.stamp, name);
    if (found.length < 2) {
      throw new NotFoundError(`Only ${found.length} signature file(s) found for ${info.pn}:${name}; need two to compare`, {
        hint: "build the task, change something, build it again",
      });
    }
    pair = [found[1], found[0]];
  } else {
    if (files.length !== 2) throw new UsageError("diffsigs takes two siginfo files, or -t RECIPE TASK");
    pair = [files[0], files[1]];
  }
  const lines = compareSiginfo(readSiginfo(pair[0]), readSiginfo(pair[1]), { dependency: dependencyPair });
  for (const line of lines) ctx.io.out(`${line}\n`);
  return EXIT.OK;
}

/** -S printdiff: why each task that would run cannot reuse its last signature. */
export async function printdiff(ctx: SigContext, kiln: Kiln, graph: TaskGraph, force = false): Promise<number> {
  await initShellParser();
  const plan = planRun(graph, force, false);
  let shown = 0;
  for (const node of plan.toRun) {
    const previous = findSiginfos(node.recipe.stamp, node.task).filter((p) => p !== siginfoPath(node));
    if (!previous.length) continue;
    const before = readSiginfo(previous[0]);
    const now = kiln.siginfo(node, graph);
    // tasks that only rerun because a dependency did are explained under that dependency
    const own =
      before.basehash !== now.basehash ||
      JSON.stringify(before.fileChecksums) !== JSON.stringify(now.fileChecksums) ||
      (before.taint ?? "") !== (now.taint ?? "") ||
      before.runtaskdeps.join(" ") !== now.runtaskdeps.join(" ");
    if (!own) continue;
    shown++;
    ctx.io.out(`Task ${node.id} must rerun; its signature changed since ${previous[0]}:\n`);
    for (const line of compareSiginfo(before, now, { dependency: dependencyPair })) ctx.io.out(`  ${line}\n`);
  }
  if (!shown) ctx.io.out(plan.toRun.length ? `No earlier signatures explain the ${plan.toRun.length} task(s) that would run.\n` : "Nothing would run: every task is current.\n");
  return EXIT.OK;
}
