/**
 * The task graph (BitBake's taskdata + RunQueueData.prepare): from targets to
 * the recipes they need (providers, DEPENDS, RDEPENDS), then every task of those
 * recipes with its dependencies — addtask after/before, [depends], [rdepends],
 * [deptask], [rdeptask], [recrdeptask], [recideptask] — then only the tasks the
 * targets reach. --runall / --runonly reshape the targets as BitBake does.
 */
import type { DataStore } from "../data/datastore.js";
import { DependencyCycleError, DependencyError, KilnError } from "../errors.js";
import type { RecipeInfo } from "../layers/recipe-info.js";
import type { TaskHashInputs } from "../sig/taskhash.js";
import { topoOrder } from "./cycles.js";
import { Providers, type Resolution } from "./providers.js";
import { parseTarget, taskName, type TargetSpec } from "./targets.js";

export interface TaskNode {
  index: number;
  recipe: RecipeInfo;
  /** `do_x` */
  task: string;
  /** `PN:do_x` */
  id: string;
  flags: Record<string, string>;
  /** Indexes (into TaskGraph.nodes) of the tasks this one waits for. */
  deps: number[];
  /** Signatures, once computed (sig/taskhash.ts). */
  basehash?: string;
  taskhash?: string;
  /** The hash in the stamp's name (basichash), if any. */
  stampHash?: string;
  hashInputs?: TaskHashInputs;
}

export interface TaskGraph {
  /** Active tasks in dependency order: every task after all its dependencies. */
  nodes: TaskNode[];
  /** The tasks the targets name. */
  targets: TaskNode[];
  /** Recipes that build (in dependency order), for pn-buildlist. */
  recipes: RecipeInfo[];
  /** Problems that did not stop the build (world recipes dropped, -k). */
  warnings: string[];
  /**
   * Explicit targets dropped because of a dependency error (only with keepGoing), and
   * BitBake's "Multiple .bb files are due to be built" errors (the build still runs).
   */
  errors: KilnError[];
}

export interface GraphOptions {
  targets: string[];
  /** -c TASK: the task for targets that name none (default BB_DEFAULT_TASK). */
  cmd?: string;
  runall?: string[];
  runonly?: string[];
  /** -k: drop a target whose dependencies cannot be resolved instead of stopping. */
  keepGoing?: boolean;
}

const words = (v: string | undefined) => (v ? v.split(/\s+/).filter(Boolean) : []);

/** `name:do_task` pairs of a [depends] / [rdepends] flag. */
function taskRefs(flag: string | undefined, owner: RecipeInfo, task: string, which: string): [string, string][] {
  return words(flag).map((ref) => {
    const at = ref.lastIndexOf(":");
    if (at <= 0 || at === ref.length - 1) {
      throw new DependencyError(`${owner.pn}:${task}[${which}] entry '${ref}' is not of the form recipe:do_task`, {
        hint: `file ${owner.file}`,
      });
    }
    return [ref.slice(0, at), ref.slice(at + 1)];
  });
}

function describeMissing(kind: "PROVIDES" | "RPROVIDES", name: string, chain: string[], res: Resolution & { kind: "none" }): DependencyError {
  const needed = chain.length ? ` (needed by ${chain.join(" -> ")})` : "";
  const skipped = res.skipped ? `; ${name} was skipped: ${res.skipped}` : "";
  return new DependencyError(`Nothing ${kind} '${name}'${needed}${skipped}`, {
    details: { name, chain },
    hint: "check the name, or that the layer providing it is in BBLAYERS",
  });
}

function describeMultiple(name: string, chain: string[], res: Resolution & { kind: "multiple" }): DependencyError {
  const pns = res.candidates.map((c) => c.pn);
  const needed = chain.length ? ` (needed by ${chain.join(" -> ")})` : "";
  return new DependencyError(`Multiple providers are available for '${name}' (${pns.join(", ")})${needed}`, {
    details: { name, providers: pns },
    hint: `set ${res.variable} to one of them`,
  });
}

class RecipeClosure {
  /** recipe -> the recipe that pulled it in (for chains) */
  readonly parent = new Map<RecipeInfo, RecipeInfo | null>();
  /** recipe -> why it cannot build */
  readonly failed = new Map<RecipeInfo, KilnError>();
  readonly order: RecipeInfo[] = [];
  /** build-time and runtime dependency recipes of each recipe, resolved once */
  readonly buildDeps = new Map<RecipeInfo, RecipeInfo[]>();
  readonly runDeps = new Map<RecipeInfo, RecipeInfo[]>();
  /** every recipe each recipe needs (also through [depends]/[rdepends] flags) */
  readonly needs = new Map<RecipeInfo, RecipeInfo[]>();

  constructor(private readonly providers: Providers) {}

  chain(r: RecipeInfo): string[] {
    const out: string[] = [];
    for (let at: RecipeInfo | null | undefined = r; at; at = this.parent.get(at)) out.unshift(at.pn);
    return out;
  }

  resolve(kind: "build" | "runtime", name: string, from: RecipeInfo | null): RecipeInfo | null {
    const res = kind === "build" ? this.providers.resolveBuild(name) : this.providers.resolveRuntime(name);
    if (res.kind === "recipe") return res.recipe;
    if (res.kind === "assumed") return null;
    const chain = from ? this.chain(from) : [];
    const err = res.kind === "none" ? describeMissing(kind === "build" ? "PROVIDES" : "RPROVIDES", name, chain, res) : describeMultiple(name, chain, res);
    if (from) {
      if (!this.failed.has(from)) this.failed.set(from, err);
      return null;
    }
    throw err;
  }

  /** Everything `roots` need, breadth first. */
  add(roots: RecipeInfo[]): void {
    const queue: RecipeInfo[] = [];
    for (const r of roots) {
      if (this.parent.has(r)) continue;
      this.parent.set(r, null);
      queue.push(r);
    }
    const resolveAll = (kind: "build" | "runtime", names: Iterable<string>, from: RecipeInfo) => {
      const out = new Set<RecipeInfo>();
      for (const n of names) {
        const dep = this.resolve(kind, n, from);
        if (dep) out.add(dep);
      }
      return out;
    };
    for (let qi = 0; qi < queue.length; qi++) {
      const r = queue[qi];
      this.order.push(r);
      // [deptask] follows DEPENDS only; [rdeptask] RDEPENDS and RRECOMMENDS of every
      // package (an unprovided recommendation fails the recipe, as in BitBake's taskdata)
      const runNames = new Set<string>();
      for (const list of Object.values(r.rdepends)) for (const n of list) runNames.add(n);
      for (const list of Object.values(r.rrecommends)) for (const n of list) runNames.add(n);
      const build = resolveAll("build", r.depends, r);
      const run = resolveAll("runtime", runNames, r);
      // names in [depends]/[rdepends] flags join the build, but not the lists above
      const flagBuild = new Set<string>();
      const flagRun = new Set<string>();
      for (const t of r.tasks) {
        for (const [name] of taskRefs(t.flags.depends, r, t.name, "depends")) flagBuild.add(name);
        for (const [name] of taskRefs(t.flags.rdepends, r, t.name, "rdepends")) flagRun.add(name);
      }
      const needs = new Set([...build, ...run, ...resolveAll("build", flagBuild, r), ...resolveAll("runtime", flagRun, r)]);
      needs.delete(r);
      this.buildDeps.set(r, [...build]);
      this.runDeps.set(r, [...run]);
      this.needs.set(r, [...needs]);
      for (const dep of needs) {
        if (this.parent.has(dep)) continue;
        this.parent.set(dep, r);
        queue.push(dep);
      }
    }
  }

  /** A recipe fails when anything it needs fails (BitBake's fail_fn propagation). */
  propagateFailures(): void {
    let changed = true;
    while (changed) {
      changed = false;
      for (const r of this.order) {
        if (this.failed.has(r)) continue;
        for (const dep of this.needs.get(r) ?? []) {
          const why = this.failed.get(dep);
          if (why) {
            this.failed.set(r, why);
            changed = true;
            break;
          }
        }
      }
    }
  }
}

/** All tasks of the closure's buildable recipes, with BitBake's dependency rules. */
class TaskTable {
  readonly nodes: TaskNode[] = [];
  private readonly byRecipe = new Map<RecipeInfo, Map<string, number>>();

  constructor(recipes: RecipeInfo[]) {
    for (const recipe of recipes) {
      const own = new Map<string, number>();
      for (const t of recipe.tasks) {
        const index = this.nodes.length;
        own.set(t.name, index);
        this.nodes.push({ index, recipe, task: t.name, id: `${recipe.pn}:${t.name}`, flags: t.flags, deps: [] });
      }
      this.byRecipe.set(recipe, own);
    }
  }

  find(recipe: RecipeInfo, task: string): number | undefined {
    return this.byRecipe.get(recipe)?.get(task);
  }

  /** The named tasks of each recipe, where they exist (deptask & co. skip missing ones). */
  addNamed(recipes: Iterable<RecipeInfo>, tasks: string[], into: Set<number>): void {
    for (const r of recipes) {
      for (const t of tasks) {
        const i = this.find(r, t);
        if (i !== undefined) into.add(i);
      }
    }
  }
}

function linkTasks(table: TaskTable, closure: RecipeClosure, providers: Providers): void {
  const deps: Set<number>[] = table.nodes.map(() => new Set<number>());
  const recursive = new Map<number, string[]>();
  const recursiveStarts = new Map<number, number[]>();
  const selfRef = new Set<number>();

  for (const node of table.nodes) {
    const { recipe, flags } = node;
    const out = deps[node.index];
    const info = recipe.tasks.find((t) => t.name === node.task);
    for (const t of info?.deps ?? []) {
      const i = table.find(recipe, t);
      if (i !== undefined) out.add(i);
    }
    const buildDeps = closure.buildDeps.get(recipe) ?? [];
    const runDeps = closure.runDeps.get(recipe) ?? [];
    if (flags.deptask) table.addNamed(buildDeps, words(flags.deptask), out);
    if (flags.rdeptask) table.addNamed(runDeps, words(flags.rdeptask), out);
    for (const [which, kind] of [
      ["depends", "build"],
      ["rdepends", "runtime"],
    ] as const) {
      for (const [name, task] of taskRefs(flags[which], recipe, node.task, which)) {
        const res = kind === "build" ? providers.resolveBuild(name) : providers.resolveRuntime(name);
        if (res.kind !== "recipe") continue;
        const i = table.find(res.recipe, task);
        if (i === undefined) {
          throw new DependencyError(`Task ${node.task} in ${recipe.file} depends upon non-existent task ${task} in ${res.recipe.file}`, {
            details: { task: node.id, dependency: `${res.recipe.pn}:${task}` },
          });
        }
        out.add(i);
      }
    }
    if (flags.recrdeptask) {
      // Part A: the named tasks of direct build and runtime dependencies
      const names = words(flags.recrdeptask);
      recursive.set(node.index, names);
      table.addNamed(buildDeps, names, out);
      table.addNamed(runDeps, names, out);
      if (names.includes(node.task)) selfRef.add(node.index);
      if (flags.recideptask) {
        const starts: number[] = [];
        for (const t of words(flags.recideptask)) {
          const i = table.find(recipe, t);
          if (i !== undefined) starts.push(i);
        }
        recursiveStarts.set(node.index, starts);
      }
    }
  }

  if (recursive.size) addRecursiveDependencies(table, deps, recursive, recursiveStarts, selfRef);
  for (const node of table.nodes) {
    deps[node.index].delete(node.index);
    node.deps = [...deps[node.index]];
  }
}

/**
 * [recrdeptask] part B, as BitBake's runqueue: from the recipes of everything below
 * the task's dependencies (and its [recideptask] tasks), the named tasks join its
 * dependencies; a recursive task also takes the named tasks that a recursive task
 * it depends on has; repeated until nothing is added. Self-referencing recursive
 * tasks (do_build[recrdeptask] = "do_build") then drop each other.
 */
function addRecursiveDependencies(
  table: TaskTable,
  deps: Set<number>[],
  recursive: Map<number, string[]>,
  recursiveStarts: Map<number, number[]>,
  selfRef: Set<number>,
): void {
  // recipes strictly below each task, on the part A graph
  const below = new Map<number, Set<RecipeInfo>>();
  const cumulative = (root: number): Set<RecipeInfo> => {
    const done = below.get(root);
    if (done) return done;
    const stack: [number, number[]][] = [[root, [...deps[root]]]];
    const onStack = new Set([root]);
    while (stack.length) {
      const [t, pending] = stack[stack.length - 1];
      const next = pending.pop();
      if (next !== undefined) {
        if (!below.has(next) && !onStack.has(next)) {
          onStack.add(next);
          stack.push([next, [...deps[next]]]);
        }
        continue;
      }
      const set = new Set<RecipeInfo>();
      for (const d of deps[t]) {
        set.add(table.nodes[d].recipe);
        for (const r of below.get(d) ?? []) set.add(r);
      }
      below.set(t, set);
      onStack.delete(t);
      stack.pop();
    }
    return below.get(root) as Set<RecipeInfo>;
  };
  for (const t of recursive.keys()) {
    for (const d of deps[t]) cumulative(d);
    for (const s of recursiveStarts.get(t) ?? []) for (const d of [s, ...deps[s]]) cumulative(d);
  }

  for (let added = true; added; ) {
    added = false;
    for (const [tid, names] of recursive) {
      const total = new Set(deps[tid]);
      for (const s of recursiveStarts.get(tid) ?? []) {
        total.add(s);
        for (const d of deps[s]) total.add(d);
      }
      const recipes = new Set<RecipeInfo>();
      for (const d of total) for (const r of cumulative(d)) recipes.add(r);
      const found = new Set<number>();
      table.addNamed(recipes, names, found);
      for (const i of found) {
        if (i !== tid && !deps[tid].has(i)) {
          deps[tid].add(i);
          added = true;
        }
      }
      for (const dep of [...deps[tid]]) {
        if (!recursive.has(dep)) continue;
        for (const x of deps[dep]) {
          if (x !== tid && !deps[tid].has(x) && names.includes(table.nodes[x].task)) {
            deps[tid].add(x);
            added = true;
          }
        }
      }
    }
  }
  for (const tid of selfRef) for (const s of selfRef) deps[tid].delete(s);
}

/** Tasks reachable from `roots` through dependencies. */
function reach(nodes: TaskNode[], roots: Iterable<number>): Set<number> {
  const seen = new Set<number>();
  const stack = [...roots];
  while (stack.length) {
    const i = stack.pop() as number;
    if (seen.has(i)) continue;
    seen.add(i);
    for (const d of nodes[i].deps) if (!seen.has(d)) stack.push(d);
  }
  return seen;
}

/**
 * BitBake's world list: every recipe not EXCLUDE_FROM_WORLD, except one providing a
 * `virtual/` name or something another PN provides too (those are built when needed).
 */
function worldRecipes(parsed: { recipes: RecipeInfo[]; preferred: Map<string, RecipeInfo> }): RecipeInfo[] {
  const providers = new Map<string, Set<string>>();
  for (const r of parsed.recipes) {
    if (r.skipped) continue;
    for (const p of r.provides) {
      const set = providers.get(p) ?? new Set<string>();
      set.add(r.pn);
      providers.set(p, set);
    }
  }
  return [...parsed.preferred.values()].filter(
    (r) => !r.skipped && !r.excludeFromWorld && !r.provides.some((p) => p.startsWith("virtual/") || (providers.get(p)?.size ?? 0) > 1),
  );
}

export function buildTaskGraph(
  parsed: { recipes: RecipeInfo[]; indexed?: RecipeInfo[]; preferred: Map<string, RecipeInfo> },
  d: DataStore,
  options: GraphOptions,
): TaskGraph {
  // (skipped recipes are among those read whole: plugins' groups skip none)
  const providers = new Providers(parsed.preferred, d, parsed.indexed ?? parsed.recipes);
  const closure = new RecipeClosure(providers);
  const defaultTask = taskName(String(d.getVar("BB_DEFAULT_TASK") ?? "build"));
  const warnings: string[] = [];
  const errors: KilnError[] = [];

  // targets -> recipes
  const wanted: { spec: TargetSpec; recipe: RecipeInfo; world: boolean }[] = [];
  for (const text of options.targets) {
    const spec = parseTarget(text, options.cmd);
    if (spec.name === "world") {
      for (const recipe of worldRecipes(parsed)) wanted.push({ spec, recipe, world: true });
      continue;
    }
    try {
      const recipe = closure.resolve("build", spec.name, null);
      if (recipe) wanted.push({ spec, recipe, world: false });
    } catch (err) {
      const runtime = providers.resolveRuntime(spec.name);
      if (runtime.kind === "recipe" && err instanceof DependencyError) {
        throw new DependencyError(`${err.message}; ${runtime.recipe.pn} RPROVIDES '${spec.name}' (a package, not a recipe)`, {
          hint: `build ${runtime.recipe.pn} instead`,
        });
      }
      if (!options.keepGoing || !(err instanceof KilnError)) throw err;
      errors.push(err);
    }
  }
  closure.add(wanted.map((w) => w.recipe));
  closure.propagateFailures();

  const targets: number[] = [];
  const usable = closure.order.filter((r) => !closure.failed.has(r));
  const table = new TaskTable(usable);
  linkTasks(table, closure, providers);
  for (const { spec, recipe, world } of wanted) {
    const failure = closure.failed.get(recipe);
    if (failure) {
      if (world) warnings.push(`Not building ${recipe.pn} (world): ${failure.message}`);
      else if (options.keepGoing) errors.push(failure);
      else throw failure;
      continue;
    }
    const task = spec.task ?? defaultTask;
    const i = table.find(recipe, task);
    if (i === undefined) {
      if (world) continue;
      throw new DependencyError(`Task ${task} does not exist for target ${spec.name}`, {
        hint: `its tasks: ${recipe.tasks.map((t) => t.name).join(" ")}`,
      });
    }
    targets.push(i);
  }

  let active = reach(table.nodes, targets);
  let finalTargets = targets;
  const reshape = (tasks: string[] | undefined, all: boolean) => {
    if (!tasks?.length) return;
    const names = tasks.map(taskName);
    const picked: number[] = [];
    if (all) {
      // --runall: that task of every recipe in the graph, even where it would not
      // have run; repeated, since those tasks can bring in more recipes
      const chosen = new Set<number>();
      for (let grew = true; grew; ) {
        grew = false;
        for (const r of new Set([...active].map((i) => table.nodes[i].recipe))) {
          for (const n of names) {
            const i = table.find(r, n);
            if (i !== undefined && !chosen.has(i)) {
              chosen.add(i);
              grew = true;
            }
          }
        }
        active = reach(table.nodes, chosen);
      }
      picked.push(...chosen);
    } else {
      // --runonly: only those tasks already in the graph
      for (const i of active) if (names.includes(table.nodes[i].task)) picked.push(i);
    }
    if (!picked.length) {
      throw new DependencyError(
        `Could not find any tasks with the tasknames ${names.join(", ")} to run within the recipes of the taskgraphs of the targets ${options.targets.join(", ")}`,
      );
    }
    finalTargets = picked;
    active = reach(table.nodes, picked);
  };
  reshape(options.runall, true);
  reshape(options.runonly, false);

  // renumber the active tasks, in dependency order
  const activeList = [...active].sort((a, b) => a - b);
  const local = new Map(activeList.map((g, i) => [g, i]));
  const sorted = topoOrder({ size: activeList.length, deps: (i) => table.nodes[activeList[i]].deps.map((g) => local.get(g) as number) });
  if ("cycle" in sorted) throw new DependencyCycleError(sorted.cycle.map((i) => table.nodes[activeList[i]].id));
  const newIndex = new Map<number, number>();
  sorted.order.forEach((li, k) => newIndex.set(activeList[li], k));
  const nodes: TaskNode[] = sorted.order.map((li, k) => {
    const old = table.nodes[activeList[li]];
    return { ...old, index: k, deps: old.deps.map((g) => newIndex.get(g) as number) };
  });
  const recipes: RecipeInfo[] = [];
  const seenRecipes = new Set<RecipeInfo>();
  for (const n of nodes) {
    if (!seenRecipes.has(n.recipe)) {
      seenRecipes.add(n.recipe);
      recipes.push(n.recipe);
    }
  }
  // runqueue.prepare's sanity check: two recipes due to be built that provide the same
  // name (a target or a DEPENDS naming each by PN) is an error, the build still runs;
  // BB_MULTI_PROVIDER_ALLOWED lists names that may; world builds only note it (not shown)
  if (!options.targets.includes("world")) {
    const allowed = new Set(String(d.getVar("BB_MULTI_PROVIDER_ALLOWED") ?? "").split(/\s+/).filter(Boolean));
    const byName = new Map<string, RecipeInfo[]>();
    for (const r of recipes) for (const p of new Set([r.pn, ...r.provides])) byName.set(p, [...(byName.get(p) ?? []), r]);
    for (const [name, list] of byName) {
      if (list.length < 2 || allowed.has(name)) continue;
      errors.push(
        new DependencyError(`Multiple .bb files are due to be built which each provide ${name}:\n  ${list.map((r) => r.file).join("\n  ")}`, {
          details: { name, providers: list.map((r) => r.pn) },
          hint: `build one of them, or list ${name} in BB_MULTI_PROVIDER_ALLOWED`,
        }),
      );
    }
  }
  return {
    nodes,
    targets: [...new Set(finalTargets)].map((g) => nodes[newIndex.get(g) as number]),
    recipes,
    warnings,
    errors,
  };
}
