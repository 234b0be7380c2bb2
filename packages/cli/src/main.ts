/**
 * The `kiln` command: a thin layer over @kiln/core. Every failure is caught here
 * and printed as one message (with -D, the stack too).
 */
import { Command, CommanderError } from "commander";
import { DataStore, Kiln, UsageError, emitEnvironment, emitHistory, shellQuote, splitVariantFile, variantFile, type KilnOptions } from "@kiln/core";
import { resolve } from "node:path";
import { cliKilnOptions } from "./plugins.js";
import { EXIT, reportError } from "./errors.js";
// commands load their modules when used: `kiln -p` should not pay for the build UI
const buildCommand = async (...a: Parameters<typeof import("./build-command.js").buildCommand>) =>
  (await import("./build-command.js")).buildCommand(...a);
const dumpsig = async (...a: Parameters<typeof import("./sig-commands.js").dumpsig>) => (await import("./sig-commands.js")).dumpsig(...a);
const diffsigs = async (...a: Parameters<typeof import("./sig-commands.js").diffsigs>) => (await import("./sig-commands.js")).diffsigs(...a);
import { addLayer, initBuildDir, removeLayer, showLayers } from "./layers-command.js";
import { processOutput, type Output } from "./output.js";

interface MainOptions {
  e?: boolean;
  p?: boolean;
  b?: string;
  r?: string;
  D?: boolean;
  k?: boolean;
  j?: string;
  c?: string;
  f?: boolean;
  n?: boolean;
  g?: boolean;
  runall?: string[];
  runonly?: string[];
  json?: boolean;
  S?: string;
  setsceneOnly?: boolean;
  skipSetscene?: boolean;
}

interface RunContext {
  io: Output;
  cwd: string;
  env: NodeJS.ProcessEnv;
  debug: boolean;
  /** stdout is a terminal we own: draw the live status. */
  interactive: boolean;
}

function kilnFor(ctx: RunContext, history = false): Kiln {
  const opts: KilnOptions = cliKilnOptions(ctx, { history });
  return new Kiln(opts);
}

/** The DataStore `-e`/getvar show: the configuration, one recipe (-r/-b), with history when asked. */
async function storeFor(ctx: RunContext, recipe: string | undefined, file: string | undefined, history: boolean): Promise<DataStore> {
  if (recipe && file) throw new UsageError("use either -r RECIPE or -b FILE, not both");
  const kiln = kilnFor(ctx, history);
  if (file) {
    // `-b virtual:native:foo.bb`: the variant of that file, as bitbake -b takes it
    const { file: real, cls } = splitVariantFile(file);
    return kiln.parseRecipe(variantFile(cls, resolve(ctx.cwd, real)), []);
  }
  if (recipe) {
    const info = await kiln.findRecipe(recipe);
    return kiln.parseRecipe(info.file, info.appends);
  }
  return kiln.configuration().d;
}

async function parseOnly(ctx: RunContext, keepGoing: boolean): Promise<number> {
  const kiln = kilnFor(ctx);
  const result = await kiln.parseAll();
  for (const w of result.warnings) ctx.io.err(`WARNING: ${w}\n`);
  for (const e of result.errors) {
    ctx.io.err(`ERROR: ${e.message}\n`);
    if (e.hint) ctx.io.err(`  hint: ${e.hint}\n`);
  }
  const s = result.stats;
  ctx.io.out(
    `Parsing recipes: ${s.recipes} recipes, ${s.parsed} parsed, ${s.cached} from cache, ${s.skipped} skipped, ${s.masked} masked, ${s.errors} errors` +
      (s.virtual ? `, ${s.virtual} virtual` : "") +
      (s.variants ? `, ${s.variants} variants` : "") +
      `. ${result.preferred.size} targets.\n`,
  );
  return s.errors && !keepGoing ? EXIT.USAGE : EXIT.OK;
}

const collect = (value: string, previous: string[]) => [...previous, value];

function buildProgram(ctx: RunContext, setCode: (c: number) => void): Command {
  const program = new Command("kiln");
  program
    .description("kiln: a BitBake-syntax build task runner")
    .usage("[options] [TARGET...]")
    .argument("[targets...]", "recipes (or recipe:do_task) to build")
    .option("-e", "print the configuration (or a recipe's) environment with variable history, as bitbake -e")
    .option("-p", "parse every recipe and report counts (recipes, cached, skipped, errors), as bitbake -p")
    .option("-b <file>", "use one recipe file directly (with -e or getvar)")
    .option("-r <recipe>", "the recipe whose variables -e prints")
    .option("-c <task>", "run this task of the targets (default BB_DEFAULT_TASK, build)")
    .option("-f", "force the task to run even when its stamp is current (and rerun what follows it)")
    .option("-k", "continue as much as possible after an error")
    .option("-n", "dry run: print what would run, run nothing")
    .option("-g", "write the task graph: task-depends.dot and pn-buildlist")
    .option("--runall <task>", "run this task for every recipe in the targets' graph", collect, [])
    .option("--runonly <task>", "run only this task (and what it needs) within the targets' graph", collect, [])
    .option("--json", "print build events as JSON lines")
    .option("--setscene-only", "only restore from shared state (setscene tasks); run no real task")
    .option("--skip-setscene", "run no setscene task; build for real (what was restored before is kept)")
    .option("-S <mode>", "signatures: 'none' writes the siginfo of every task without running; 'printdiff' explains what changed")
    .option("-j <n>", "parallel tasks (BB_NUMBER_THREADS) and parse threads")
    .option("-D", "debug: show stack traces")
    .enablePositionalOptions()
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.io.out(s), writeErr: (s) => ctx.io.err(s) })
    .action(async (targets: string[], opts: MainOptions) => {
      if (opts.p) return setCode(await parseOnly(ctx, !!opts.k));
      if (opts.e) {
        if (targets.length > 1) throw new UsageError("-e takes at most one recipe");
        const d = await storeFor(ctx, opts.r ?? targets[0], opts.b, true);
        ctx.io.out(emitEnvironment(d, true));
        return setCode(EXIT.OK);
      }
      if (opts.b) throw new UsageError("-b is for -e and getvar; build recipes by name", { hint: "kiln RECIPE" });
      if (targets.length) {
        const threads = opts.j === undefined ? undefined : Number.parseInt(opts.j, 10);
        if (threads !== undefined && !(threads > 0)) throw new UsageError(`-j takes a positive number, not '${opts.j}'`);
        return setCode(
          await buildCommand(
            { io: ctx.io, cwd: ctx.cwd, env: ctx.env, interactive: ctx.interactive },
            {
              targets,
              cmd: opts.c,
              force: opts.f,
              keepGoing: opts.k,
              dryRun: opts.n,
              graph: opts.g,
              runall: opts.runall?.length ? opts.runall : undefined,
              runonly: opts.runonly?.length ? opts.runonly : undefined,
              json: opts.json,
              signatures: opts.S,
              setsceneOnly: opts.setsceneOnly,
              skipSetscene: opts.skipSetscene,
              threads,
              debug: ctx.debug,
            },
          ),
        );
      }
      ctx.io.out(program.helpInformation());
      return setCode(EXIT.USAGE);
    });

  program
    .command("getvar")
    .description("print a variable's value (of the configuration, or of a recipe with -r / -b)")
    .argument("<var>", "variable name")
    .option("-r, --recipe <recipe>", "recipe to read the variable from")
    .option("-b, --file <file>", "recipe file to read the variable from")
    .option("--flag <flag>", "print this flag of the variable instead")
    .option("--value", "print only the value")
    .option("--history", "print the variable's history (which file and line changed it)")
    .option("-D", "debug: show stack traces")
    .action(async (name: string, o: { recipe?: string; file?: string; flag?: string; value?: boolean; history?: boolean }) => {
      const history = !!o.history && !o.value;
      const d = await storeFor(ctx, o.recipe, o.file, history);
      const value = o.flag ? d.getVarFlag(name, o.flag) : d.getVar(name);
      const unset = value === undefined || value === null;
      if (o.value) {
        if (unset) return setCode(EXIT.FAILED);
        ctx.io.out(`${String(value)}\n`);
        return setCode(EXIT.OK);
      }
      if (history) ctx.io.out(emitHistory(d, name));
      if (unset) {
        ctx.io.err(`The variable '${name}${o.flag ? `[${o.flag}]` : ""}' is not defined\n`);
        return setCode(EXIT.FAILED);
      }
      ctx.io.out(`${name}${o.flag ? `[${o.flag}]` : ""}="${shellQuote(String(value))}"\n`);
      return setCode(EXIT.OK);
    });

  program
    .command("dumpsig")
    .description("print what went into a task's signature (a siginfo file)")
    .argument("<file>", "siginfo file (${STAMP}.do_task.sigdata.<hash>)")
    .action(async (file: string) => setCode(await dumpsig(ctx, resolve(ctx.cwd, file))));

  program
    .command("diffsigs")
    .description("explain what changed between two signatures: two siginfo files, or -t RECIPE TASK for a task's two newest")
    .argument("[args...]", "FILE1 FILE2, or with -t: RECIPE TASK")
    .option("-t, --task", "compare the two newest siginfo files of RECIPE TASK")
    .action(async (args: string[], o: { task?: boolean }) => {
      if (o.task) {
        if (args.length !== 2) throw new UsageError("diffsigs -t takes RECIPE TASK");
        return setCode(await diffsigs(ctx, [], { recipe: args[0], task: args[1] }));
      }
      return setCode(await diffsigs(ctx, args.map((a) => resolve(ctx.cwd, a))));
    });

  const sstate = program.command("sstate").description("shared state objects: list what a target has, prune old ones");
  sstate
    .command("list")
    .argument("[targets...]", "targets (default: world)")
    .description("which shared state objects the targets' tasks have: local, on a mirror, or missing")
    .action(async (targets: string[]) => setCode(await (await import("./sstate-command.js")).sstateList(ctx, targets)));
  sstate
    .command("prune")
    .description("remove objects from SSTATE_DIR")
    .option("--older-than <days>", "objects not written for this many days")
    .option("--keep-latest", "all but the newest object of each recipe task")
    .action(async (o: { olderThan?: string; keepLatest?: boolean }) => setCode(await (await import("./sstate-command.js")).sstatePrune(ctx, o)));

  const debian = program.command("debian").description("Debian root filesystems (@kiln/debian): show the resolved package set, lock it");
  debian
    .command("show")
    .argument("<target>", "a recipe that inherits debian-rootfs")
    .description("the packages of the target's root filesystem, with versions and why each is in it")
    .action(async (target: string) => setCode(await (await import("./debian-command.js")).debianShow(ctx, target)));
  debian
    .command("lock")
    .argument("<targets...>", "recipes that inherit debian-rootfs")
    .option("--update", "resolve again from the suite's current versions and rewrite the lock")
    .description("write debian.lock: the targets' packages (name, version, arch, sha256) and the InRelease they came from")
    .action(async (targets: string[], o: { update?: boolean }) => setCode(await (await import("./debian-command.js")).debianLock(ctx, targets, o)));

  program
    .command("init")
    .description("make a build directory with conf/bblayers.conf and conf/local.conf")
    .argument("[dir]", "build directory", "build")
    .action((dir: string) => setCode(initBuildDir(resolve(ctx.cwd, dir), ctx.io)));

  const layers = program.command("layers").description("show or edit the layers of this build directory");
  layers.command("show").description("list the layers in BBLAYERS").action(() => setCode(showLayers(kilnFor(ctx), ctx.io)));
  layers
    .command("add")
    .argument("<dir>", "layer directory")
    .description("add a layer to BBLAYERS")
    .action((dir: string) => setCode(addLayer(kilnFor(ctx), resolve(ctx.cwd, dir), ctx.io)));
  layers
    .command("remove")
    .argument("<dir>", "layer directory")
    .description("remove a layer from BBLAYERS")
    .action((dir: string) => setCode(removeLayer(kilnFor(ctx), resolve(ctx.cwd, dir), ctx.io)));

  return program;
}

export interface MainEnvironment {
  io?: Output;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** Run the CLI; resolves to the exit code. */
export async function main(argv: string[], environment: MainEnvironment = {}): Promise<number> {
  const debug = argv.includes("-D");
  const ctx: RunContext = {
    io: environment.io ?? processOutput,
    cwd: environment.cwd ?? process.cwd(),
    env: environment.env ?? process.env,
    debug,
    // a terminal with no size (a bare pty) cannot host a status area: plain lines then
    interactive: !environment.io && !!process.stdout.isTTY && (process.stdout.columns ?? 0) > 0,
  };
  let code: number = EXIT.OK;
  const program = buildProgram(ctx, (c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv, { from: "user" });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version") return EXIT.OK;
      return EXIT.USAGE;
    }
    return reportError(err, ctx.io, debug);
  }
}
