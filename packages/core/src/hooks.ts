/**
 * Every core hook, typed once, grouped by subsystem (CONVENTIONS 1-2). Plugins tap
 * these by name; only core calls them. Later subsystems (tasks, setscene, fetch,
 * signatures, events) add their groups here.
 */
import { AsyncSeriesBailHook, AsyncSeriesHook, AsyncSeriesWaterfallHook, HookMap, SyncBailHook, SyncHook, SyncWaterfallHook } from "tapable";
import type { SetsceneCandidate } from "./run/scenequeue.js";
import { attributeTap } from "./plugins.js";
import type { SrcUri } from "./fetch/uri.js";
import type { DataStore } from "./data/datastore.js";
import type { LayerInfo } from "./layers/config.js";
import type { BasehashDetails } from "./sig/basehash.js";
import type { ProviderIndex } from "./layers/recipe-info.js";
import type { RecipeInfo } from "./layers/recipe-info.js";
import type {
  BuildCompletedEvent,
  BuildStartedEvent,
  LogEvent,
  TaskFailedEvent,
  TaskRef,
  TaskStartedEvent,
  TaskSucceededEvent,
} from "./run/events.js";

/** What a task body supplied by a plugin (`taskFunction`) gets beside the task's DataStore. */
export interface TaskContext {
  /** Append a line to the task's log file. */
  log(line: string): void;
  /** The task's log file. */
  logFile: string;
  /** Aborted when the build is interrupted. */
  signal: AbortSignal;
  /** A note or warning in the task's log and on the build's console (as `kiln.note/warn` in metadata). */
  note(message: string): void;
  warn(message: string): void;
  /** Run a metadata function (shell or JS) in this task's context, as bb.build.exec_func. */
  execFunc(name: string): Promise<void>;
}

export interface StampInfo {
  taskhash: string;
  stampFile: string;
  /** The siginfo written beside the stamp, if any. */
  siginfoFile?: string;
}

export interface TaskResult {
  ok: boolean;
  error?: unknown;
}

/** Virtual recipes a plugin adds at parse time (e.g. one per Debian binary package). */
export interface VirtualRecipe {
  info: RecipeInfo;
  /** Builds the recipe's full DataStore on demand from a copy of the configuration. */
  materialize(config: DataStore): DataStore;
  /**
   * What a task's siginfo records of its basehash (dependencies and their values), when
   * the plugin knows it without analysing the materialised store again (a template's
   * analysis with the recipe's own values); else core works it out from the store.
   */
  basehashDetails?(task: string): BasehashDetails | undefined;
}

/**
 * Many virtual recipes a plugin makes on demand (a Debian suite's 60,000): looked up by
 * PN or file as a build needs them, all of them only for what lists every recipe
 * (`-p`, world). Each lookup of one recipe gives the same object; none is skipped.
 */
export interface VirtualRecipeGroup {
  /** How many recipes the group holds. */
  readonly size: number;
  /** The recipe whose PN is `pn`. */
  byPn(pn: string): VirtualRecipe | undefined;
  /** The recipe whose file name is `file`. */
  byFile(file: string): VirtualRecipe | undefined;
  /** Every recipe of the group. */
  all(): Iterable<VirtualRecipe>;
  /** Answers provider lookups for all of them (else they are indexed one by one, all made). */
  readonly providerIndex?: ProviderIndex;
}

export interface RecipeIndexView {
  /** Add a recipe that has no file of its own. */
  addVirtual(recipe: VirtualRecipe): void;
  /** Add many recipes made on demand. */
  addVirtualGroup(group: VirtualRecipeGroup): void;
  /** The recipes parsed from files (from the parse cache or now), for plugins to read. */
  readonly recipes: readonly RecipeInfo[];
  /**
   * Put a changed copy of a parsed recipe's index entry in its place (same `file`), as
   * an anonymous function would have set it: e.g. task dependencies that can only be
   * known once the virtual recipes exist. Not saved in the parse cache: taps run on
   * every parse.
   */
  replace(info: RecipeInfo): void;
}

export function createHooks() {
  return attributeTaps(Object.freeze({
    // config
    /**
     * After the configuration (bitbake.conf, layers, INHERIT) is parsed and the plugins it
     * names are applied (after layersLoaded). Taps check and read it; a variable set here
     * is not seen by recipes parsed on worker threads or from the parse cache (README).
     */
    configParsed: new SyncHook<[DataStore]>(["d"], "configParsed"),
    /** The layer list (bblayers.conf and every layer.conf), once the plugins are applied. */
    layersLoaded: new SyncHook<[LayerInfo[]]>(["layers"], "layersLoaded"),
    // parse
    /** Before recipes are indexed; taps add virtual recipes to the index. */
    synthesizeRecipes: new AsyncSeriesHook<[RecipeIndexView, DataStore]>(["index", "d"], "synthesizeRecipes"),
    /** A recipe was parsed in this process (not restored from the parse cache); return value ignored. */
    recipeParsed: new SyncHook<[DataStore, RecipeInfo]>(["d", "info"], "recipeParsed"),
    // tasks
    /** Before a task's prefuncs, with BB_CURRENTTASK set; a throw fails the task. */
    taskPre: new AsyncSeriesHook<[TaskRef, DataStore]>(["task", "d"], "taskPre"),
    /** After a task's postfuncs (or its failure); `result.ok` says which. A throw fails the task. */
    taskPost: new AsyncSeriesHook<[TaskRef, DataStore, TaskResult]>(["task", "d", "result"], "taskPost"),
    /**
     * Plugin-implemented task bodies, keyed by task name (`do_package`): the first
     * tap returning `true` has run the body, and the metadata function is not run.
     */
    taskFunction: new HookMap(
      (key: string) => new AsyncSeriesBailHook<[TaskRef, DataStore, TaskContext], true | undefined>(["task", "d", "context"], `taskFunction:${key}`),
    ),
    // fetch
    /**
     * Download `url` to the file `dest` (a temp name; core verifies and renames), keyed
     * by URL scheme: the first tap returning `true` has fetched it.
     */
    fetch: new HookMap(
      (scheme: string) => new AsyncSeriesBailHook<[string, string, DataStore], true | undefined>(["url", "dest", "d"], `fetch:${scheme}`),
    ),
    /**
     * Fetchers that manage a whole source themselves (a git repository in DL_DIR/git2,
     * pinned by SRCREV), keyed by scheme: the first tap returning `true` has fetched it;
     * core's single-file download, checksum and mirror handling is then skipped.
     */
    fetchSource: new HookMap(
      (scheme: string) => new AsyncSeriesBailHook<[SrcUri, DataStore], true | undefined>(["uri", "d"], `fetchSource:${scheme}`),
    ),
    /**
     * do_cleanall for a source a `fetchSource` fetcher manages (a git clone): the first
     * tap that handles the scheme removes what it downloaded and returns the paths removed.
     */
    cleanSource: new HookMap(
      (scheme: string) => new AsyncSeriesBailHook<[SrcUri, DataStore], string[] | undefined>(["uri", "d"], `cleanSource:${scheme}`),
    ),
    /** Unpack a source of a scheme into a directory (e.g. a git checkout); `true` when done. */
    unpack: new HookMap(
      (scheme: string) => new AsyncSeriesBailHook<[SrcUri, string, DataStore], true | undefined>(["uri", "dest", "d"], `unpack:${scheme}`),
    ),
    /** Where to try fetching a SRC_URI entry, in order (mirrors add before/after): taps return the list. */
    resolveUrls: new SyncWaterfallHook<[string[], SrcUri, DataStore]>(["urls", "uri", "d"], "resolveUrls"),
    // setscene
    /** Which setscene candidates (ids) have shared state objects: taps add to the set and return it. */
    checkHashes: new AsyncSeriesWaterfallHook<[Set<string>, Map<string, SetsceneCandidate>]>(["found", "candidates"], "checkHashes"),
    /**
     * BB_SETSCENE_DEPVALID as a hook: `true` when `task`'s setscene can be skipped for the
     * tasks depending on it (`taskDeps`: id -> [pn, task, file], the task included); first boolean wins.
     */
    setsceneDepValid: new SyncBailHook<[string, Map<string, [string, string, string]>, Set<string>], boolean | undefined>(
      ["task", "taskDeps", "notNeeded"],
      "setsceneDepValid",
    ),
    /** A task's stamp (and siginfo, when signatures are on) were written. */
    taskStamped: new AsyncSeriesHook<[TaskRef, StampInfo]>(["task", "stamp"], "taskStamped"),
    /** A setscene task restored a task's output (event). */
    setsceneHit: new SyncHook<[TaskRef]>(["task"], "setsceneHit"),
    /** The task graph's recipes are known and signatures come next: taps may look things up (async) for the sync signature hooks. */
    graphPrepared: new AsyncSeriesHook<[RecipeInfo[]]>(["recipes"], "graphPrepared"),
    // signatures
    /** Extra basehash inputs of a task (plugin name, version, code hash...); taps append to the list and return it. */
    basehashInputs: new SyncWaterfallHook<[string[], TaskRef, RecipeInfo]>(["inputs", "task", "recipe"], "basehashInputs"),
    /** Extra taskhash inputs of a task; taps append to the list and return it. */
    taskhashInputs: new SyncWaterfallHook<[string[], TaskRef, RecipeInfo]>(["inputs", "task", "recipe"], "taskhashInputs"),
    /** Whether `dep`'s hash goes into `task`'s: the first tap returning a boolean decides (false drops it). */
    taskDependencyFilter: new SyncBailHook<[TaskRef, TaskRef], boolean | undefined>(["task", "dep"], "taskDependencyFilter"),
    // events (also handed to metadata addhandler functions; return values ignored)
    /** The run queue is about to start. */
    buildStarted: new SyncHook<[BuildStartedEvent]>(["event"], "buildStarted"),
    /** A task starts (noexec placeholders and up-to-date tasks fire nothing). */
    taskStarted: new SyncHook<[TaskStartedEvent]>(["event"], "taskStarted"),
    /** A task finished and its stamp is written. */
    taskSucceeded: new SyncHook<[TaskSucceededEvent]>(["event"], "taskSucceeded"),
    /** A task failed or was interrupted; no stamp is written. */
    taskFailed: new SyncHook<[TaskFailedEvent]>(["event"], "taskFailed"),
    /** The run queue finished (or stopped). */
    buildCompleted: new SyncHook<[BuildCompletedEvent]>(["event"], "buildCompleted"),
    /** A note, warning or error from a task or the run queue. */
    log: new SyncHook<[LogEvent]>(["event"], "log"),
  }));
}

interface Interceptable {
  name?: string;
  intercept(i: { register?: (tap: never) => unknown; factory?: (key: string, hook: Interceptable) => Interceptable }): void;
}

/** Every tap of every hook reports its failures as a HookError naming the tap (CONVENTIONS 11). */
function attributeTaps<T extends Record<string, unknown>>(hooks: T): T {
  for (const [key, hook] of Object.entries(hooks) as [string, Interceptable][]) {
    const name = hook.name ?? key;
    const register = (tap: never) => attributeTap(name, tap) as never;
    if (hook instanceof HookMap) {
      hook.intercept({ factory: (k: string, h: Interceptable) => (h.intercept({ register: (tap: never) => attributeTap(h.name ?? `${key}:${k}`, tap) as never }), h) } as never);
    } else hook.intercept({ register });
  }
  return hooks;
}

export type KilnHooks = ReturnType<typeof createHooks>;
