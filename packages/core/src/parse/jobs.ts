/**
 * Parsing a batch of recipes against one configuration: shared by the main
 * thread and the worker threads so both produce the same results.
 */
import { KilnError } from "../errors.js";
import type { Configuration } from "../layers/config.js";
import { recipeInfo, type RecipeInfo } from "../layers/recipe-info.js";
import { FileStamps, type FileStamp } from "../cache/parse-cache.js";
import { ParseSession, parseRecipeVariants, variantFile } from "./recipe.js";
import { withStableTree } from "./files.js";
import { taskBasehashValues } from "../sig/basehash.js";
import { checksumFiles } from "../sig/file-checksums.js";
import type { DataStore } from "../data/datastore.js";

/** RecipeInfo plus what signatures need from the full DataStore (basehashes, checksum files). */
export function indexInfo(d: DataStore, file: string, appends: string[]): RecipeInfo {
  const info = recipeInfo(d, file, appends);
  if (info.skipped) return info;
  const basehashes: Record<string, string> = {};
  // BitBake reports undeterminable dependencies at debug level; kiln's debug switch is KILN_DEBUG
  const debug = process.env.KILN_DEBUG ? (m: string) => process.stderr.write(`DEBUG: ${file}: ${m}\n`) : undefined;
  for (const [task, hash] of taskBasehashValues(d, debug)) basehashes[task] = hash;
  return { ...info, basehashes, checksumFiles: checksumFiles(d) };
}

export interface ParseJob {
  file: string;
  appends: string[];
}

export interface SerializedError {
  code: string;
  message: string;
  hint?: string;
}

export interface ParseOutcome {
  file: string;
  appends: string[];
  info?: RecipeInfo;
  /** Its BBCLASSEXTEND variants (`virtual:native:FILE`...), in BBCLASSEXTEND order. */
  variants?: RecipeInfo[];
  /** BB_DONT_CACHE is set: parsed again every time, never kept in the parse cache. */
  dontCache?: boolean;
  files?: FileStamp[];
  error?: SerializedError;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof KilnError) return { code: err.code, message: err.message, hint: err.hint };
  return { code: "PARSE_ERROR", message: err instanceof Error ? err.message : String(err) };
}

export function parseJobs(config: Configuration, jobs: ParseJob[], stamps = new FileStamps()): ParseOutcome[] {
  return withStableTree(() => parseAll(config, jobs, stamps));
}

function parseAll(config: Configuration, jobs: ParseJob[], stamps: FileStamps): ParseOutcome[] {
  const out: ParseOutcome[] = [];
  for (const job of jobs) {
    const session = new ParseSession();
    try {
      const stores = parseRecipeVariants(config.d.createCopy(), job.file, { appends: job.appends, session });
      const infos = [...stores].map(([cls, d]) => indexInfo(d, variantFile(cls, job.file), job.appends));
      // expanded, in the recipe or any variant (BitBake's nocache keeps that one out, so the file is parsed again)
      const dontCache = [...stores.values()].some((d) => !!d.getVar("BB_DONT_CACHE"));
      out.push({ ...job, info: infos[0], ...(infos.length > 1 ? { variants: infos.slice(1) } : {}), ...(dontCache ? { dontCache } : {}), files: stamps.fromSession(session.files) });
    } catch (err) {
      out.push({ ...job, error: serializeError(err), files: stamps.fromSession(session.files) });
    }
  }
  return out;
}
