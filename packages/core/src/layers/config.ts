/**
 * Loading the configuration as BitBake's cookerdata does: environment, then
 * conf/bblayers.conf (found along BBPATH, then from the current directory up),
 * each layer's conf/layer.conf with LAYERDIR set, then conf/bitbake.conf found on
 * BBPATH (which includes conf/local.conf), then the base class and INHERIT.
 */
import { existsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createRequire } from "node:module";
import { DataStore, failOnRenamedVariables, RENAMED_VARIABLES } from "../data/datastore.js";
import { KilnError, LayerError, ParseError } from "../errors.js";
import { ParseSession, evaluateFile, inherit } from "../parse/evaluate.js";
import { which } from "../parse/files.js";
import { inheritFromEnvironment } from "./environment.js";
import { applyDynamicBbfiles, layerCollections } from "./collections.js";
import { byPattern } from "./collect.js";

export interface LoadConfigOptions {
  /** Directory the build runs from (TOPDIR unless bblayers.conf says otherwise). */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Record variable history (for -e and getvar --history). */
  history?: boolean;
  /** Extra configuration files read before/after bitbake.conf (-r / -R). */
  prefiles?: string[];
  postfiles?: string[];
  /** Plugin packages loaded as if KILN_PLUGINS named them first (the CLI's fetchers and packagers). */
  defaultPlugins?: string[];
  /** Directories plugin package names are resolved from (the host's own, e.g. the CLI's). */
  pluginResolveFrom?: string[];
}

export interface LayerInfo {
  path: string;
  collection?: string;
  pattern?: string;
  priority: number;
  depends: string[];
}

export interface Configuration {
  d: DataStore;
  session: ParseSession;
  topdir: string;
  bblayersConf: string | null;
  layers: LayerInfo[];
  /** The approved environment that entered the configuration. */
  env: Record<string, string>;
}

/** Where the base layer (@kiln/meta) lives; it is always last on BBPATH. */
export function metaLayerDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve("@kiln/meta/package.json"));
}

function findConfigFile(name: string, d: DataStore, cwd: string): string | null {
  const search: string[] = [];
  const bbpath = d.getVar("BBPATH");
  if (bbpath) for (const dir of String(bbpath).split(":")) if (dir) search.push(join(dir, "conf", name));
  let path = resolve(cwd);
  for (;;) {
    search.push(join(path, "conf", name));
    const up = dirname(path);
    if (up === path) break;
    path = up;
  }
  return search.find((p) => existsSync(p)) ?? null;
}

/** bb.data_smart.expandVarref: make `${LAYERDIR}` references concrete in what was set since `since`. */
function expandVarref(d: DataStore, name: string): void {
  const value = d.getVar(name, false);
  if (typeof value !== "string") return;
  const ref = `\${${name}}`;
  for (const key of d.localKeys()) {
    const raw = d.getVar(key, false, { parsing: true });
    if (typeof raw === "string" && raw.includes(ref)) d.setVar(key, raw.split(ref).join(value), { ignore: true, parsing: true });
    for (const kw of [":append", ":prepend", ":remove"]) {
      const ops = d.getVarFlag(key, kw, false) as [unknown, string | null][] | undefined;
      if (ops?.some(([v]) => typeof v === "string" && v.includes(ref))) {
        d.setVarFlag(key, kw, ops.map(([v, o]) => [typeof v === "string" ? v.split(ref).join(value) : v, o]), { ignore: true });
      }
    }
  }
}

export function loadConfiguration(options: LoadConfigOptions = {}): Configuration {
  const cwd = resolve(options.cwd ?? process.cwd());
  const d = new DataStore({ history: options.history });
  const session = new ParseSession();
  // as BitBake's CookerDataBuilder: an old name in the shell environment is an error, not ignored
  const renamedInEnv = [...RENAMED_VARIABLES].filter(([name]) => (options.env ?? process.env)[name] !== undefined);
  if (renamedInEnv.length) {
    throw new KilnError(
      "PARSE_ERROR",
      renamedInEnv.map(([name, to]) => `Shell environment variable ${name} ${to.includes(" ") ? to : `has been renamed to ${to}`}`).join("\n"),
      { hint: "rename it in your shell environment" },
    );
  }
  const env = inheritFromEnvironment(d, options.env ?? process.env);
  const top = { file: "[configuration]", line: 1, column: 1 };

  for (const f of options.prefiles ?? []) evaluateFile(resolve(cwd, f), d, session);

  const bblayersConf = findConfigFile("bblayers.conf", d, cwd);
  const layers: LayerInfo[] = [];
  let topdir = cwd;
  let data = d;
  if (bblayersConf) {
    topdir = dirname(dirname(bblayersConf));
    data.setVar("TOPDIR", topdir, { file: bblayersConf, line: 0, op: "set (TOPDIR from bblayers.conf)" });
    evaluateFile(bblayersConf, data, session);
    const paths = String(data.getVar("BBLAYERS") ?? "").split(/\s+/).filter(Boolean);
    if (!paths.length) throw new LayerError(`${bblayersConf} does not set BBLAYERS`, { hint: "add your layers with 'kiln layers add DIR'" });
    const broken = paths.filter((p) => !existsSync(p) || !statSync(p).isDirectory());
    if (broken.length) {
      throw new LayerError(`these layer directories in BBLAYERS do not exist: ${broken.join(", ")}`, {
        hint: `fix BBLAYERS in ${bblayersConf} or run 'kiln layers remove DIR'`,
      });
    }
    data = data.createCopy();
    for (let layer of paths) {
      // normalised, so BBFILE_PATTERN_* match the globbed recipe paths
      layer = resolve(layer);
      data.setVar("LAYERDIR", layer, { ignore: true });
      data.setVar("LAYERDIR_RE", layer.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), { ignore: true });
      const conf = join(layer, "conf", "layer.conf");
      if (!existsSync(conf)) throw new LayerError(`layer ${layer} has no conf/layer.conf`);
      evaluateFile(conf, data, session);
      expandVarref(data, "LAYERDIR");
      expandVarref(data, "LAYERDIR_RE");
      layers.push({ path: layer, priority: 0, depends: [] });
    }
    data.delVar("LAYERDIR_RE", { ignore: true });
    data.delVar("LAYERDIR", { ignore: true });
    applyDynamicBbfiles(data);
    describeCollections(data, layers);
  }

  if (!data.getVar("BBPATH")) {
    throw new LayerError(
      bblayersConf
        ? "The BBPATH variable is not set"
        : "The BBPATH variable is not set and no conf/bblayers.conf was found in the current directory or above",
      { hint: "run kiln from a build directory (see 'kiln init'), or set BBPATH" },
    );
  }
  if (!data.getVar("TOPDIR")) data.setVar("TOPDIR", topdir, { file: "[kiln]", line: 0 });
  // the base layer is always searched last, so bitbake.conf and base.bbclass have defaults
  const meta = metaLayerDir();
  const bbpath = String(data.getVar("BBPATH"));
  if (!bbpath.split(":").includes(meta)) data.setVar("BBPATH", `${bbpath}:${meta}`, { file: "[kiln]", line: 0, op: "append (base layer)" });

  const bitbakeConf = which(String(data.getVar("BBPATH")), "conf/bitbake.conf");
  for (const a of bitbakeConf.attempts) if (a !== bitbakeConf.found) session.markAbsent(a);
  if (!bitbakeConf.found) throw new ParseError("conf/bitbake.conf not found on BBPATH", top);
  evaluateFile(bitbakeConf.found, data, session);

  for (const f of options.postfiles ?? []) evaluateFile(resolve(cwd, f), data, session);

  // plugin packages that ship classes/ or conf/ are searched after the layers, before the base layer
  const specs = [...(options.defaultPlugins ?? []), ...String(data.getVar("KILN_PLUGINS") ?? "").split(/\s+/).filter(Boolean)];
  const pluginDirs = pluginLayerDirs(specs, [...(options.pluginResolveFrom ?? []), String(data.getVar("TOPDIR")), cwd]);
  if (pluginDirs.length) {
    const parts = String(data.getVar("BBPATH")).split(":").filter((p) => p && p !== meta && !pluginDirs.includes(p));
    data.setVar("BBPATH", [...parts, ...pluginDirs, meta].join(":"), { file: "[kiln]", line: 0, op: "append (plugins)" });
  }

  data.setVar("__bbclasstype", "global", { ignore: true });
  for (const cls of ["base", ...String(data.getVar("INHERIT") ?? "").split(/\s+/).filter(Boolean)]) {
    inherit(cls, data, session, { file: "[INHERIT]", line: 1, column: 1 }, false);
  }
  data.setVar("__bbclasstype", "recipe", { ignore: true });
  failOnRenamedVariables(data, "the configuration");
  return { d: data, session, topdir: String(data.getVar("TOPDIR")), bblayersConf, layers, env };
}

/** The root of an installed package `spec` resolved from one of `bases`, or undefined. */
function packageRoot(spec: string, bases: string[]): string | undefined {
  for (const base of bases) {
    let file: string;
    try {
      file = createRequire(join(base, "noop.js")).resolve(spec);
    } catch {
      continue;
    }
    for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
      if (existsSync(join(dir, "package.json"))) return dir;
    }
  }
  return undefined;
}

/**
 * Package roots of the plugins `specs` (package names; paths are files inside layers,
 * which are on BBPATH already) that ship `classes/` or `conf/`, in order.
 */
export function pluginLayerDirs(specs: string[], bases: string[]): string[] {
  const out: string[] = [];
  for (const spec of new Set(specs)) {
    if (spec.startsWith(".") || spec.startsWith("/")) continue;
    const root = packageRoot(spec, [...bases, dirname(new URL(import.meta.url).pathname)]);
    if (root && !out.includes(root) && (existsSync(join(root, "classes")) || existsSync(join(root, "conf")))) out.push(root);
  }
  return out;
}

/** BBFILE_COLLECTIONS checked (collections.ts) and their patterns, priorities and LAYERDEPENDS given to the layers they name. */
function describeCollections(d: DataStore, layers: LayerInfo[]): void {
  const collections = byPattern(layerCollections(d));
  for (const layer of layers) {
    // the collection whose pattern names the layer's directory, the innermost first
    const c = collections.find((x) => x.pattern.test(`${layer.path}/`));
    if (c) Object.assign(layer, { collection: c.name, pattern: c.source, priority: c.priority, depends: c.depends });
  }
}
