/**
 * The Kiln object: loads the configuration, finds and parses recipes (through the
 * parse cache and worker threads), and exposes the hooks plugins tap.
 */
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { DataStore } from "./data/datastore.js";
import { KilnError, LayerError, NotFoundError } from "./errors.js";
import { importPlugins, type KilnPlugin, type PluginImporter } from "./plugins.js";
import { createHooks, type KilnHooks, type VirtualRecipe, type VirtualRecipeGroup } from "./hooks.js";
import { PreferredRecipes } from "./tasks/preferred-recipes.js";
import { FileStamps, ParseCache, PARSE_CACHE_VERSION } from "./cache/parse-cache.js";
import { loadConfiguration, type Configuration, type LoadConfigOptions } from "./layers/config.js";
import { appendsFor, collectRecipeFiles, danglingAppends, recipePriority } from "./layers/collect.js";
import { chooseRecipe, type Candidate } from "./layers/preferred.js";
import { recipeInfo, type RecipeInfo } from "./layers/recipe-info.js";
import { sha256, withStableTree } from "./parse/files.js";
import type { ParseOutcome } from "./parse/jobs.js";
import { parseInParallel } from "./parse/pool.js";
import { ParseSession, parseRecipeVariants, splitVariantFile } from "./parse/recipe.js";
import type { BuildCompletedEvent } from "./run/events.js";
import { dryRun, runTasks, type DryRunPlan, type RunOptions } from "./run/runqueue.js";
import { buildTaskGraph, type GraphOptions, type TaskGraph, type TaskNode } from "./tasks/graph.js";
import { basehashDetailsOf, type BasehashDetails } from "./sig/basehash.js";
import { initShellParser } from "./deps/shell.js";
import { computeTaskhashes, newTaint, taintFile, type SignatureHandler } from "./sig/taskhash.js";
import { buildSiginfo, siginfoPath, writeSiginfo, type Siginfo } from "./sig/siginfo.js";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/** BB_NUMBER_PARSE_THREADS: how many threads parse recipes (default: every core). */
function parseThreads(d: DataStore): number | undefined {
  const n = Number.parseInt(String(d.getVar("BB_NUMBER_PARSE_THREADS") ?? ""), 10);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

export interface ParseStats {
  recipes: number;
  parsed: number;
  cached: number;
  skipped: number;
  masked: number;
  errors: number;
  virtual: number;
  /** BBCLASSEXTEND variants (`virtual:native:...`), counted apart from `recipes` (files). */
  variants: number;
}

export interface RecipeError {
  file: string;
  code: string;
  message: string;
  hint?: string;
}

export interface ParseResult {
  /** Every recipe (plugins' recipe groups are made in full when this is first read). */
  recipes: RecipeInfo[];
  /** The recipes parsed from files and the single virtual ones (no group's but those competing with them): what a build reads whole. */
  indexed?: RecipeInfo[];
  errors: RecipeError[];
  warnings: string[];
  stats: ParseStats;
  /** PN -> the recipe chosen to build it. */
  preferred: Map<string, RecipeInfo>;
}

export interface KilnOptions extends LoadConfigOptions {
  /** Parallel parse threads (default: available cores). */
  threads?: number;
  /** How plugin packages named in KILN_PLUGINS are imported (the CLI passes its own `import`). */
  importPlugin?: PluginImporter;
  /** Plugins to apply besides those KILN_PLUGINS names. */
  plugins?: KilnPlugin<Kiln>[];
}

export class Kiln {
  readonly hooks: KilnHooks = createHooks();
  private config: Configuration | null = null;
  private virtuals = new Map<string, VirtualRecipe>();
  private groups: VirtualRecipeGroup[] = [];
  private loaded: Promise<void> | undefined;
  /** Applied plugins by name (`kiln.plugin(name)` in metadata JavaScript). */
  readonly plugins = new Map<string, KilnPlugin<Kiln>>();

  constructor(readonly options: KilnOptions = {}) {}

  /** The parsed configuration (read once). */
  configuration(): Configuration {
    if (!this.config) {
      this.config = withStableTree(() => loadConfiguration(this.options));
    }
    return this.config;
  }

  /** Identifies everything the configuration came from: its files' contents and the environment. */
  configHash(): string {
    const c = this.configuration();
    // code-unit order: localeCompare's first call set up ICU's collator, ~15 ms of every start
    const files = [...c.session.files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return sha256(JSON.stringify([PARSE_CACHE_VERSION, c.topdir, files, Object.entries(c.env).sort()]));
  }

  /** Parse every recipe of the configured layers (as `bitbake -p`). */
  /** Import and apply the plugins of KILN_PLUGINS (and `options.plugins`), once. */
  loadPlugins(): Promise<void> {
    this.loaded ??= (async () => {
      const config = this.configuration();
      const specs = [...new Set([...(this.options.defaultPlugins ?? []), ...String(config.d.getVar("KILN_PLUGINS") ?? "").split(/\s+/).filter(Boolean)])];
      const found = [...(this.options.plugins ?? []), ...((await importPlugins(specs, config.topdir, this.options.importPlugin)) as KilnPlugin<Kiln>[])];
      for (const plugin of found) {
        if (this.plugins.has(plugin.name)) throw new LayerError(`Two plugins are named '${plugin.name}'`);
        this.plugins.set(plugin.name, plugin);
        await plugin.apply(this);
      }
      // After the plugins are applied: the configuration names them (KILN_PLUGINS), so
      // firing these earlier reached nobody.
      this.hooks.layersLoaded.call(config.layers);
      this.hooks.configParsed.call(config.d);
    })();
    return this.loaded;
  }

  async parseAll(): Promise<ParseResult> {
    await this.loadPlugins();
    const config = this.configuration();
    const d = config.d;
    const { recipes: files, appends, masked, collections } = collectRecipeFiles(d);
    const warnings: string[] = [];
    const dangling = danglingAppends(files, appends);
    if (dangling.length) {
      const msg = `No recipes match these .bbappend files: ${dangling.join(", ")}`;
      if (d.getVar("BB_DANGLINGAPPENDS_WARNONLY")) warnings.push(msg);
      else throw new KilnError("PARSE_ERROR", msg, { hint: 'set BB_DANGLINGAPPENDS_WARNONLY = "1" to only warn' });
    }

    // BitBake's collection_priorities: a layer whose pattern matched no recipe and no append is warned about
    for (const c of collections) {
      if (String(d.getVar(`BBFILE_PATTERN_IGNORE_EMPTY_${c.name}`) ?? "") === "1") continue;
      if (!files.some((f) => c.pattern.test(f)) && !appends.some((f) => c.pattern.test(f))) {
        warnings.push(`No bb files in default matched BBFILE_PATTERN_${c.name} '${c.source}'`);
      }
    }
    const cacheDir = String(d.getVar("CACHE") ?? join(String(d.getVar("TMPDIR") ?? join(config.topdir, "tmp")), "cache"));
    const cache = ParseCache.load(cacheDir, this.configHash());
    const stamps = new FileStamps();
    const infos: RecipeInfo[] = [];
    const todo: { file: string; appends: string[] }[] = [];
    for (const file of files) {
      const fileAppends = appendsFor(file, appends);
      const hit = cache.lookup(file, fileAppends, stamps);
      if (hit) infos.push(...hit);
      else todo.push({ file, appends: fileAppends });
    }
    const cached = files.length - todo.length;

    const outcomes: ParseOutcome[] = todo.length
      ? await parseInParallel(config, configOptions(this.options), todo, parseThreads(d) ?? this.options.threads)
      : [];
    const errors: RecipeError[] = [];
    for (const o of outcomes) {
      if (o.error) {
        errors.push({ file: o.file, ...o.error });
        continue;
      }
      const info = o.info as RecipeInfo;
      infos.push(info, ...(o.variants ?? []));
      // BitBake's BB_DONT_CACHE: such a recipe is parsed on every run
      if (o.dontCache) cache.drop(o.file);
      else cache.store(o.file, { appends: o.appends, files: o.files ?? [], info, ...(o.variants ? { variants: o.variants } : {}) });
    }
    cache.retain(new Set(files));
    cache.save();

    this.virtuals.clear();
    const groups: VirtualRecipeGroup[] = (this.groups = []);
    await this.hooks.synthesizeRecipes.promise(
      {
        addVirtual: (r) => this.virtuals.set(r.info.file, r),
        addVirtualGroup: (g) => groups.push(g),
        recipes: infos,
        replace: (info) => {
          const at = infos.findIndex((i) => i.file === info.file);
          if (at < 0) throw new KilnError("FATAL", `synthesizeRecipes: no parsed recipe ${info.file} to replace`);
          infos[at] = info;
        },
      },
      d,
    );
    // BBCLASSEXTEND variants are among the recipes parsed from files (counted before the plugins' many)
    const variants = infos.filter((i) => i.file.startsWith("virtual:")).length;
    for (const v of this.virtuals.values()) infos.push(v.info);
    // a group's recipe of the same PN as one of these competes with them as any other
    const listed = new Set(infos);
    for (const pn of new Set(infos.map((i) => i.pn))) {
      for (const g of groups) {
        const r = g.byPn(pn);
        if (r && !listed.has(r.info)) {
          infos.push(r.info);
          listed.add(r.info);
        }
      }
    }
    const preferred = new PreferredRecipes(this.choosePreferred(infos, collections, warnings), groups);
    const skipped = infos.filter((i) => i.skipped).length;
    const grouped = groups.reduce((n, g) => n + g.size, 0);
    let all: RecipeInfo[] | undefined;
    return {
      // the groups' recipes are made only when every recipe is listed
      get recipes() {
        if (!all) {
          all = [...infos];
          for (const g of groups) for (const r of g.all()) if (!listed.has(r.info)) all.push(r.info);
        }
        return all;
      },
      indexed: infos,
      errors,
      warnings,
      preferred,
      stats: {
        recipes: files.length + this.virtuals.size + grouped,
        parsed: outcomes.length,
        cached,
        skipped,
        masked,
        errors: errors.length,
        virtual: this.virtuals.size + grouped,
        variants,
      },
    };
  }

  /** The virtual recipe named `file`: added one by one, or in a group. */
  private virtualRecipe(file: string): VirtualRecipe | undefined {
    const single = this.virtuals.get(file);
    if (single) return single;
    for (const g of this.groups) {
      const r = g.byFile(file);
      if (r) return r;
    }
    return undefined;
  }

  private choosePreferred(infos: RecipeInfo[], collections: ReturnType<typeof collectRecipeFiles>["collections"], warnings: string[]): Map<string, RecipeInfo> {
    // the first recipe of each PN, and the others of the few PNs that have several:
    // layer priorities matter only between candidates (tens of thousands of virtual
    // recipes have none)
    const out = new Map<string, RecipeInfo>();
    const more = new Map<string, RecipeInfo[]>();
    for (const info of infos) {
      if (info.skipped) continue;
      const first = out.get(info.pn);
      if (!first) out.set(info.pn, info);
      else more.set(info.pn, [...(more.get(info.pn) ?? [first]), info]);
    }
    const d = this.configuration().d;
    // a PN with a PREFERRED_VERSION or REQUIRED_VERSION is chosen even alone: a version
    // it does not have is warned about (required: it provides nothing), as BitBake does
    const named = (pn: string) => d.getVar(`PREFERRED_VERSION_${pn}`) || (d.getVar(`REQUIRED_VERSION_${pn}`) ?? null) !== null;
    // (the configuration's few such names, not a lookup per recipe)
    for (const key of d.keys()) {
      const pn = key.startsWith("PREFERRED_VERSION_") ? key.slice(18) : key.startsWith("REQUIRED_VERSION_") ? key.slice(17) : undefined;
      const info = pn === undefined ? undefined : out.get(pn);
      if (pn !== undefined && info && !more.has(pn) && named(pn)) more.set(pn, [info]);
    }
    for (const [pn, list] of more) {
      const candidates: Candidate[] = list.map((info) => ({ info, priority: recipePriority(splitVariantFile(info.file).file, collections).priority }));
      const choice = chooseRecipe(pn, candidates, d);
      warnings.push(...choice.warnings);
      // (skipped, the reason shows in "Nothing PROVIDES")
      out.set(pn, choice.chosen ? choice.chosen.info : { ...list[0], skipped: choice.error });
    }
    return out;
  }

  /**
   * Full DataStore of one recipe file, parsed now (with history when the configuration
   * has it); `virtual:native:FILE` is FILE's BBCLASSEXTEND variant `native`.
   */
  parseRecipe(fn: string, appends?: string[]): DataStore {
    const config = this.configuration();
    const virtual = this.virtualRecipe(fn);
    if (virtual) return virtual.materialize(config.d.createCopy());
    const { file, cls } = splitVariantFile(fn);
    const all = appends ?? appendsFor(file, collectRecipeFiles(config.d).appends);
    const d = parseRecipeVariants(config.d.createCopy(), file, { appends: all, session: new ParseSession(), only: cls }).get(cls);
    if (!d) {
      throw new KilnError("PARSE_ERROR", `${file} has no BBCLASSEXTEND variant '${cls}'`, { hint: "its BBCLASSEXTEND lists the variants it has" });
    }
    this.hooks.recipeParsed.call(d, recipeInfo(d, fn, all));
    return d;
  }

  private handler: SignatureHandler = "basichash";
  private readonly stores = new Map<string, DataStore>();
  private readonly basehashDetails = new Map<string, (task: string) => BasehashDetails | undefined>();

  /** The task graph for targets, with task signatures (parses every recipe first, through the parse cache). */
  async taskGraph(options: GraphOptions, parsed?: ParseResult): Promise<TaskGraph> {
    const result = parsed ?? (await this.parseAll());
    const graph = buildTaskGraph(result, this.configuration().d, options);
    await this.hooks.graphPrepared.promise(graph.recipes);
    this.handler = computeTaskhashes(graph, this.configuration().d, this.hooks);
    return graph;
  }

  /** A recipe's full DataStore, parsed once per Kiln (tasks of a recipe share it). */
  recipeData(node: { recipe: RecipeInfo }): DataStore {
    let d = this.stores.get(node.recipe.file);
    if (!d) {
      d = this.parseRecipe(node.recipe.file, node.recipe.appends);
      this.stores.set(node.recipe.file, d);
    }
    return d;
  }

  /** The siginfo of a task as it stands now (its recipe is parsed for the variable values; needs initShellParser()). */
  siginfo(node: TaskNode, graph: TaskGraph): Siginfo {
    const d = this.recipeData(node);
    let details = this.basehashDetails.get(node.recipe.file);
    if (!details) {
      const virtual = this.virtualRecipe(node.recipe.file);
      details = virtual?.basehashDetails ? (task: string) => virtual.basehashDetails?.(task) : basehashDetailsOf(d);
      this.basehashDetails.set(node.recipe.file, details);
    }
    return buildSiginfo(node, graph, details(node.task), d, this.handler);
  }

  /** `-S none`: write the siginfo of every task of the graph, running nothing. Returns the files. */
  async writeSignatures(graph: TaskGraph): Promise<string[]> {
    await initShellParser();
    const out: string[] = [];
    if (this.handler === "noop") return out;
    for (const node of graph.nodes) {
      const path = siginfoPath(node);
      await writeSiginfo(path, this.siginfo(node, graph));
      out.push(path);
    }
    return out;
  }

  /**
   * -f: taint the targets (BitBake's write_taint), so they and everything after
   * them get new hashes now and in later builds; then recompute the hashes.
   */
  invalidate(graph: TaskGraph): void {
    for (const t of graph.targets) {
      if (t.flags.nostamp) continue;
      const file = taintFile(t);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, `${newTaint()}\n`);
    }
    this.handler = computeTaskhashes(graph, this.configuration().d, this.hooks);
  }

  /** BB_NUMBER_THREADS, or the number of cores. */
  threads(): number {
    const v = Number.parseInt(String(this.configuration().d.getVar("BB_NUMBER_THREADS") ?? ""), 10);
    return Number.isInteger(v) && v > 0 ? v : Math.max(1, availableParallelism());
  }

  /** What `build` would do (setscene restores included), changing nothing: `-n`. */
  async dryRun(graph: TaskGraph, options: BuildOptions = {}): Promise<DryRunPlan> {
    await initShellParser();
    const config = this.configuration();
    return dryRun(
      graph,
      { hooks: this.hooks, config: config.d, recipeData: (node) => this.recipeData(node) },
      { ...options, threads: options.threads ?? this.threads(), plugins: (name: string) => this.plugins.get(name) },
    );
  }

  /** Run the tasks of a graph that are not current. */
  async build(graph: TaskGraph, options: BuildOptions = {}): Promise<BuildCompletedEvent> {
    await initShellParser();
    const config = this.configuration();
    if (options.force && this.handler !== "noop") this.invalidate(graph);
    const writeSig = this.handler === "noop" ? undefined : (node: TaskNode) => writeSiginfo(siginfoPath(node), this.siginfo(node, graph));
    return runTasks(
      graph,
      {
        hooks: this.hooks,
        config: config.d,
        recipeData: (node) => this.recipeData(node),
        writeSiginfo: writeSig,
        releaseRecipe: (recipe) => {
          this.stores.delete(recipe.file);
          this.basehashDetails.delete(recipe.file);
        },
      },
      {
        ...options,
        threads: options.threads ?? this.threads(),
        env: config.env,
        targets: graph.targets.map((t) => t.id),
        plugins: (name: string) => this.plugins.get(name),
      },
    );
  }

  /** The recipe file chosen for a name (PN or something it PROVIDES). */
  async findRecipe(name: string): Promise<RecipeInfo> {
    const result = await this.parseAll();
    const direct = result.preferred.get(name);
    if (direct) return direct;
    const providers = [...result.preferred.values()].filter((i) => i.provides.includes(name));
    if (providers.length === 1) return providers[0];
    const pref = this.configuration().d.getVar(`PREFERRED_PROVIDER_${name}`);
    const chosen = pref ? result.preferred.get(String(pref)) : undefined;
    if (chosen) return chosen;
    if (providers.length > 1) {
      throw new KilnError("NOT_FOUND", `Multiple recipes provide ${name}: ${providers.map((p) => p.pn).join(", ")}`, {
        hint: `set PREFERRED_PROVIDER_${name} to choose one`,
      });
    }
    const skipped = result.recipes.find((i) => i.pn === name && i.skipped);
    if (skipped) throw new NotFoundError(`Recipe ${name} is skipped: ${skipped.skipped}`);
    throw new NotFoundError(`Nothing PROVIDES '${name}'`, { hint: "check the name, or that its layer is in BBLAYERS ('kiln layers show')" });
  }
}

export interface BuildOptions extends Omit<RunOptions, "env" | "targets" | "threads"> {
  /** Parallel tasks; default BB_NUMBER_THREADS, else the number of cores. */
  threads?: number;
}

/** What worker threads need to load the same configuration: only cloneable settings (no plugins or importers). */
function configOptions(o: KilnOptions): LoadConfigOptions {
  // (plugins, importers and default plugin lists stay in this thread)
  return { cwd: o.cwd, env: o.env, history: o.history, prefiles: o.prefiles, postfiles: o.postfiles, defaultPlugins: o.defaultPlugins, pluginResolveFrom: o.pluginResolveFrom };
}

export function newDataStore(history = false): DataStore {
  return new DataStore({ history });
}
