/**
 * `kiln [options] TARGET...`: parse, build the task graph, then -g (graph files),
 * -n (what would run) or a real build with a reporter attached. Ctrl-C / SIGTERM
 * stop the running tasks; their stamps are not written.
 */
import { Kiln, UsageError, writeGraphFiles, type KilnOptions } from "@kiln/core";
import { cliKilnOptions } from "./plugins.js";
import { EXIT } from "./errors.js";
import type { Output } from "./output.js";
import { attachReporter, loadLiveReporter, reporterKind } from "./reporters/index.js";
import { printdiff } from "./sig-commands.js";

export interface BuildCommandOptions {
  targets: string[];
  cmd?: string;
  force?: boolean;
  keepGoing?: boolean;
  dryRun?: boolean;
  graph?: boolean;
  runall?: string[];
  runonly?: string[];
  json?: boolean;
  /** -S none | printdiff */
  signatures?: string;
  setsceneOnly?: boolean;
  skipSetscene?: boolean;
  threads?: number;
  debug?: boolean;
}

export interface BuildContext {
  io: Output;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Draw the live status (stdout is a terminal and is ours). */
  interactive: boolean;
}

function withSignals<T>(controller: AbortController, fn: () => Promise<T>): Promise<T> {
  const stop = () => controller.abort();
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  return fn().finally(() => {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  });
}

export async function buildCommand(ctx: BuildContext, o: BuildCommandOptions): Promise<number> {
  if (!o.targets.length) throw new UsageError("no targets given", { hint: "kiln RECIPE | kiln RECIPE:do_task | kiln world" });
  if (o.signatures !== undefined && o.signatures !== "none" && o.signatures !== "printdiff") {
    throw new UsageError(`-S takes 'none' or 'printdiff', not '${o.signatures}'`);
  }
  const options: KilnOptions = cliKilnOptions(ctx, o.threads ? { threads: o.threads } : {});
  const kiln = new Kiln(options);
  const parsed = await kiln.parseAll();
  for (const w of parsed.warnings) ctx.io.err(`WARNING: ${w}\n`);
  if (parsed.errors.length) {
    for (const e of parsed.errors) {
      ctx.io.err(`ERROR: ${e.message}\n`);
      if (e.hint) ctx.io.err(`  hint: ${e.hint}\n`);
    }
    if (!o.keepGoing) return EXIT.USAGE;
  }
  const graph = await kiln.taskGraph(
    { targets: o.targets, cmd: o.cmd, runall: o.runall, runonly: o.runonly, keepGoing: o.keepGoing },
    parsed,
  );
  for (const w of graph.warnings) ctx.io.err(`WARNING: ${w}\n`);
  for (const e of graph.errors) ctx.io.err(`ERROR: ${e.message}\n`);

  if (o.graph) {
    const [dot, list] = writeGraphFiles(graph, ctx.cwd);
    ctx.io.out(`NOTE: PN build list saved to '${list}'\nNOTE: Task dependencies saved to '${dot}'\n`);
    return graph.errors.length ? EXIT.FAILED : EXIT.OK;
  }
  if (o.signatures === "none") {
    const files = await kiln.writeSignatures(graph);
    ctx.io.out(`NOTE: Wrote the signature data of ${files.length} tasks (beside their stamps; kiln dumpsig FILE shows one).\n`);
    return graph.errors.length ? EXIT.FAILED : EXIT.OK;
  }
  if (o.signatures === "printdiff") return printdiff(ctx, kiln, graph, o.force);
  if (o.dryRun) {
    const plan = await kiln.dryRun(graph, { force: o.force, setsceneOnly: o.setsceneOnly, skipSetscene: o.skipSetscene });
    const total = plan.setscene.length + plan.run.length;
    [...plan.setscene, ...plan.run.map((n) => n.id)].forEach((id, i) => ctx.io.out(`NOTE: Running task ${i + 1} of ${total}: ${id} (dry run)\n`));
    ctx.io.out(
      `NOTE: Tasks Summary: ${graph.nodes.length} tasks, ${plan.run.length} would run, ${plan.setscene.length} would be restored from shared state, ` +
        `${graph.nodes.length - plan.run.length} need no real run (dry run).\n`,
    );
    return graph.errors.length ? EXIT.FAILED : EXIT.OK;
  }

  const kind = reporterKind({ json: o.json, isTTY: ctx.interactive });
  if (kind === "live") await loadLiveReporter();
  const reporter = attachReporter(kind, kiln.hooks, ctx.io, { verbose: o.debug });
  const controller = new AbortController();
  try {
    const result = await withSignals(controller, () =>
      kiln.build(graph, {
        keepGoing: o.keepGoing,
        force: o.force,
        signal: controller.signal,
        setsceneOnly: o.setsceneOnly,
        skipSetscene: o.skipSetscene,
        ...(o.threads ? { threads: o.threads } : {}),
      }),
    );
    return result.failed || result.interrupted || graph.errors.length || (parsed.errors.length && o.keepGoing) ? EXIT.FAILED : EXIT.OK;
  } finally {
    reporter.close();
  }
}
