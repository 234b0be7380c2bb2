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
  /** Explicit targets dropped because of a dependency error (only with keepGoing). */
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

  constructor(private readonly providers: Providers) {}

  chain(r: RecipeInfo): string[] {
    const out: string[] = [];
    for (let at: RecipeInfo | null | undefined = r; at; at = this.parent.get(at)) out.unshift(at.pn);
    return out;
  }

  resolve(kind: "build" | "runtime", name: string, from: RecipeInfo | null, optional = false): RecipeInfo | null {
    const res = kind === "build" ? this.providers.resolveBuild(name) : this.providers.resolveRuntime(name);
    if (res.kind === "recipe") return res.recipe;
    if (res.kind === "assumed" || optional) return null;
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
    for (let qi = 0; qi < queue.length; qi++) {
      const r = queue[qi];
      this.order.push(r);
      const build = new Set<RecipeInfo>();
      const run = new Set<RecipeInfo>();
      const buildNames = new Set(r.depends);
      const runNames = new Set<string>();
      const recommends = new Set<string>();
      for (const t of r.tasks) {
        for (const [name] of taskRefs(t.flags.depends, r, t.name, "depends")) buildNames.add(name);
        for (const [name] of taskRefs(t.flags.rdepends, r, t.name, "rdepends")) runNames.add(name);
      }
      for (const list of Object.values(r.rdepends)) for (const n of list) runNames.add(n);
      for (const list of Object.values(r.rrecommends)) for (const n of list) if (!runNames.has(n)) recommends.add(n);
      for (const n of buildNames) {
        const dep = this.resolve("build", n, r);
        if (dep && dep !== r) build.add(dep);
      }
      for (const n of runNames) {
        const dep = this.resolve("runtime", n, r);
        if (dep && dep !== r) run.add(dep);
      }
      // an RRECOMMENDS nothing provides is dropped, as BitBake does
      for (const n of recommends) {
        const dep = this.resolve("runtime", n, r, true);
        if (dep && dep !== r) run.add(dep);
      }
      this.buildDeps.set(r, [...build]);
      this.runDeps.set(r, [...run]);
      for (const dep of [...build, ...run]) {
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
        for (const dep of [...(this.buildDeps.get(r) ?? []), ...(this.runDeps.get(r) ?? [])]) {
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

  // Part B: walk everything each recursive task reaches; from every recipe on the
  // way, the named tasks join (and are walked in turn). Computed on the Part A
  // edges for all tasks before any is replaced, as BitBake does.
  const extra = new Map<number, Set<number>>();
  for (const [index, names] of recursive) {
    const found = new Set<number>(deps[index]);
    const seen = new Set<number>();
    const stack = [index, ...(recursiveStarts.get(index) ?? [])];
    while (stack.length) {
      const t = stack.pop() as number;
      if (seen.has(t)) continue;
      seen.add(t);
      const named = new Set<number>();
      table.addNamed([table.nodes[t].recipe], names, named);
      for (const a of named) found.add(a);
      named.add(t);
      for (const a of named) for (const n of deps[a]) if (!seen.has(n)) stack.push(n);
    }
    extra.set(index, found);
  }
  for (const [index, found] of extra) {
    // self-referencing recursive tasks (do_build[recrdeptask] = "do_build") drop each other
    for (const s of selfRef) found.delete(s);
    deps[index] = found;
  }
  for (const node of table.nodes) {
    deps[node.index].delete(node.index);
    node.deps = [...deps[node.index]];
  }
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

export function buildTaskGraph(
  parsed: { recipes: RecipeInfo[]; preferred: Map<string, RecipeInfo> },
  d: DataStore,
  options: GraphOptions,
): TaskGraph {
  const providers = new Providers(parsed.preferred.values(), d, parsed.recipes);
  const closure = new RecipeClosure(providers);
  const defaultTask = taskName(String(d.getVar("BB_DEFAULT_TASK") ?? "build"));
  const warnings: string[] = [];
  const errors: KilnError[] = [];

  // targets -> recipes
  const wanted: { spec: TargetSpec; recipe: RecipeInfo; world: boolean }[] = [];
  for (const text of options.targets) {
    const spec = parseTarget(text, options.cmd);
    if (spec.name === "world") {
      for (const recipe of parsed.preferred.values()) {
        if (!recipe.skipped && !recipe.excludeFromWorld) wanted.push({ spec, recipe, world: true });
      }
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
    const recipes = new Set([...active].map((i) => table.nodes[i].recipe));
    const picked: number[] = [];
    if (all) {
      // --runall: that task of every recipe in the graph, even where it would not have run
      for (const r of recipes) for (const n of names) {
        const i = table.find(r, n);
        if (i !== undefined) picked.push(i);
      }
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
  return {
    nodes,
    targets: [...new Set(finalTargets)].map((g) => nodes[newIndex.get(g) as number]),
    recipes,
    warnings,
    errors,
  };
}
