/**
 * Plugins (DESIGN §1, CONVENTIONS 3 and 11): `KILN_PLUGINS` (set in local.conf or a
 * layer.conf) lists package names or paths; each module exports a plugin
 * `{ name, apply(kiln) }` (as its default export or as `plugin`). Paths are taken
 * relative to TOPDIR; package names are imported by the host (the CLI passes its
 * own `import`, so the packages it ships resolve). Two plugins with one name are
 * an error. Every tap is wrapped so that a throw names the plugin and the hook.
 */
import { createRequire } from "node:module";
import { isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { KilnError, LayerError } from "./errors.js";

export interface KilnPlugin<K = unknown> {
  name: string;
  apply(kiln: K): void | Promise<void>;
}

/** Imports a plugin package by name (from the host's point of view). */
export type PluginImporter = (specifier: string) => Promise<unknown>;

function isPlugin(x: unknown): x is KilnPlugin {
  return typeof x === "object" && x !== null && typeof (x as KilnPlugin).name === "string" && typeof (x as KilnPlugin).apply === "function";
}

function pluginOf(mod: unknown): KilnPlugin | undefined {
  if (isPlugin(mod)) return mod;
  const m = mod as { default?: unknown; plugin?: unknown };
  if (isPlugin(m?.default)) return m.default;
  if (isPlugin(m?.plugin)) return m.plugin;
  return undefined;
}

/**
 * Without a host importer: from core itself, else resolved from TOPDIR or the
 * current directory (a project that installs kiln and its plugins side by side).
 */
function defaultImporter(topdir: string): PluginImporter {
  return async (spec) => {
    try {
      return await import(spec);
    } catch (first) {
      for (const base of [topdir, process.cwd()]) {
        try {
          const path = createRequire(join(base, "noop.js")).resolve(spec);
          return await import(pathToFileURL(path).href);
        } catch {
          // not there either
        }
      }
      throw first;
    }
  };
}

/** Import every entry of KILN_PLUGINS and check it is a plugin; duplicates are an error. */
export async function importPlugins(specs: string[], topdir: string, importer: PluginImporter = defaultImporter(topdir)): Promise<KilnPlugin[]> {
  const out: KilnPlugin[] = [];
  const byName = new Map<string, string>();
  for (const spec of specs) {
    const isPath = spec.startsWith(".") || isAbsolute(spec);
    let mod: unknown;
    try {
      mod = isPath ? await import(pathToFileURL(resolve(topdir, spec)).href) : await importer(spec);
    } catch (err) {
      throw new LayerError(`Cannot load plugin '${spec}' listed in KILN_PLUGINS: ${(err as Error).message}`, {
        hint: isPath ? `paths are relative to TOPDIR (${topdir})` : "is the package installed beside kiln?",
        cause: err,
      });
    }
    const plugin = pluginOf(mod);
    if (!plugin) throw new LayerError(`'${spec}' listed in KILN_PLUGINS does not export a kiln plugin ({ name, apply(kiln) })`);
    const first = byName.get(plugin.name);
    if (first) throw new LayerError(`Two plugins are named '${plugin.name}': '${first}' and '${spec}'`);
    byName.set(plugin.name, spec);
    out.push(plugin);
  }
  return out;
}

/** A throw from a plugin's tap, attributed (CONVENTIONS 11). */
export class HookError extends KilnError {
  readonly plugin: string;
  readonly hook: string;
  constructor(plugin: string, hook: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super("HOOK_ERROR", `${plugin} failed in hook ${hook}: ${why}`, { cause, details: { plugin, hook } });
    this.plugin = plugin;
    this.hook = hook;
  }
}

interface TapLike {
  name: string;
  type: string;
  fn: (...args: unknown[]) => unknown;
}

/** Wrap a tap so its failures become HookErrors naming it; KilnErrors (deliberate failures) pass through. */
export function attributeTap(hookName: string, tap: TapLike): TapLike {
  const fn = tap.fn;
  const wrap = (err: unknown) => (err instanceof KilnError ? err : new HookError(tap.name, hookName, err));
  if (tap.type === "async") {
    return {
      ...tap,
      fn: (...args: unknown[]) => {
        const cb = args.pop() as (err?: unknown, result?: unknown) => void;
        return fn(...args, (err?: unknown, result?: unknown) => cb(err ? wrap(err) : err, result));
      },
    };
  }
  if (tap.type === "promise") {
    return {
      ...tap,
      fn: async (...args: unknown[]) => {
        try {
          return await fn(...args);
        } catch (err) {
          throw wrap(err);
        }
      },
    };
  }
  return {
    ...tap,
    fn: (...args: unknown[]) => {
      try {
        return fn(...args);
      } catch (err) {
        throw wrap(err);
      }
    },
  };
}
