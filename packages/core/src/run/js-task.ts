/**
 * JS functions run in process (BitBake's exec_func_python): compiled with `d` and
 * a `kiln` object whose note/warn/debug write to the task log and to the build's
 * log events; a task body may be async.
 */
import type { DataStore } from "../data/datastore.js";
import { attributeJsError, buildScope, compileFunction, functionSource } from "../js/functions.js";
import { createKilnJsApi, type FetchApi, type KilnJsApi, type MetadataLogger } from "../js/kiln-api.js";

export function taskJsApi(
  logger: MetadataLogger,
  plugins?: (name: string) => unknown,
  execFunc?: (name: string) => Promise<void>,
  fetch?: FetchApi,
): KilnJsApi {
  return createKilnJsApi(logger, plugins, execFunc, fetch);
}

/** Call the metadata function `name` with `args` (default `d`), awaiting it. */
export async function runJsFunction(d: DataStore, name: string, api: KilnJsApi, params?: string, args?: unknown[]): Promise<unknown> {
  const src = { ...functionSource(d, name), ...(params ? { params } : {}) };
  const scope = { ...buildScope(d, api), d, kiln: api };
  let fn: (...a: unknown[]) => unknown;
  try {
    fn = compileFunction(src, scope);
  } catch (err) {
    throw attributeJsError(err, src);
  }
  try {
    return await fn(...(args ?? [d]));
  } catch (err) {
    throw attributeJsError(err, src);
  }
}
