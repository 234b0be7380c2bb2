/** The `kiln` object that metadata JavaScript sees beside `d`. */
import { posix } from "node:path";
import { FatalError, SkipRecipe } from "../errors.js";
import { varsFromFile } from "../parse/vars-from-file.js";
import { utils, type KilnUtils } from "./utils.js";

export interface MetadataLogger {
  note(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
  /** A line shown as it is, with no level (bb.plain); a note where the logger has none. */
  plain?(message: string): void;
}

export interface KilnJsApi {
  note(...args: unknown[]): void;
  /** Shown as it is, without NOTE: (bb.plain). */
  plain(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  debug(...args: unknown[]): void;
  fatal(...args: unknown[]): never;
  skipRecipe(reason: string): never;
  utils: KilnUtils;
  plugin(name: string): unknown;
  /** [PN, PV, PR] from a recipe file name `name_version_revision.bb`. */
  varsFromFile(file: string | undefined): [string | undefined, string | undefined, string | undefined];
  /** The tasks `d` defines, in addtask order (bb.build.listtasks). */
  listTasks(d: unknown): string[];
  /** POSIX path helpers (BitBake code reaches for os.path). */
  path: typeof posix;
  /** Run another metadata function (shell or JS) in the current task, as bb.build.exec_func. */
  execFunc(name: string, d?: unknown): Promise<void>;
  /** The fetcher (bb.fetch2): download SRC_URI into DL_DIR, unpack into WORKDIR, apply patches in S. */
  fetch: FetchApi;
}

export interface FetchApi {
  download(d: unknown): Promise<void>;
  unpack(d: unknown): Promise<void>;
  patch(d: unknown): Promise<string[]>;
  /** Remove SRC_URI's downloads from DL_DIR (do_cleanall); the paths removed. */
  clean(d: unknown): Promise<string[]>;
}

const noFetch: FetchApi = {
  download: () => Promise.reject(new FatalError("kiln.fetch is only available while a task runs")),
  unpack: () => Promise.reject(new FatalError("kiln.fetch is only available while a task runs")),
  patch: () => Promise.reject(new FatalError("kiln.fetch is only available while a task runs")),
  clean: () => Promise.reject(new FatalError("kiln.fetch is only available while a task runs")),
};

export const stderrLogger: MetadataLogger = {
  note: (m) => process.stderr.write(`NOTE: ${m}\n`),
  plain: (m) => process.stdout.write(`${m}\n`),
  warn: (m) => process.stderr.write(`WARNING: ${m}\n`),
  debug: (m) => {
    if (process.env.KILN_DEBUG) process.stderr.write(`DEBUG: ${m}\n`);
  },
};

export function createKilnJsApi(
  logger: MetadataLogger = stderrLogger,
  plugins: (name: string) => unknown = () => undefined,
  execFunc?: (name: string) => Promise<void>,
  fetch: FetchApi = noFetch,
): KilnJsApi {
  const text = (args: unknown[]) => args.map(String).join(" ");
  return Object.freeze({
    note: (...a: unknown[]) => logger.note(text(a)),
    plain: (...a: unknown[]) => (logger.plain ? logger.plain(text(a)) : logger.note(text(a))),
    warn: (...a: unknown[]) => logger.warn(text(a)),
    debug: (...a: unknown[]) => logger.debug(text(a)),
    fatal: (...a: unknown[]): never => {
      throw new FatalError(text(a));
    },
    skipRecipe: (reason: string): never => {
      throw new SkipRecipe(reason);
    },
    utils,
    plugin: (name: string) => plugins(name),
    varsFromFile,
    listTasks: (d: unknown) => [...(((d as { getVar(name: string, expand: boolean): unknown }).getVar("__BBTASKS", false) as string[] | undefined) ?? [])],
    path: posix,
    execFunc: async (name: string) => {
      if (!execFunc) throw new FatalError(`kiln.execFunc('${name}') is only available while a task runs`);
      await execFunc(name);
    },
    fetch,
  });
}

export const defaultKilnJsApi = createKilnJsApi();
