/**
 * The DataStore: BitBake's variable model (data_smart) in TypeScript.
 *
 * Each variable is an entry of flags; its value is the `_content` flag, a `??=`
 * default is `_defaultval`, and pending `:append`/`:prepend`/`:remove` operations
 * are lists of `[value, override]` kept under those keys until read. Override
 * variants (`VAR:arm`) are variables of their own, indexed per base name in
 * `overridedata`. Reads apply, in BitBake's order: the most specific active
 * override variant, appends, prepends, expansion, then removes.
 */
import { ExpansionError, KilnError } from "../errors.js";
import { CowMap } from "./cow-map.js";
import { VariableHistory, type HistoryEvent } from "./history.js";
import { evaluateInline, findExpressionEnd, inlineResultToString } from "./inline-code.js";
import { jsDeps } from "../deps/js.js";

export type { HistoryEvent } from "./history.js";

type Entry = Record<string, unknown>;
type OverridePair = readonly [variant: string, override: string];
type PendingOp = [value: unknown, override: string | null];

/** Where an operation comes from, for history; `parsing` keeps pending operations. */
export interface SetOptions {
  parsing?: boolean;
  file?: string;
  line?: number;
  op?: string;
  detail?: unknown;
  /** Do not record this operation in history. */
  ignore?: boolean;
}

export interface GetOptions {
  /** Ignore `??=` defaults (BitBake's noweakdefault). */
  noWeakDefault?: boolean;
  /** Raw value without overrides or pending operations (as while parsing). */
  parsing?: boolean;
}

/** The result of expanding text: its value and the variables it referenced. */
export interface Expansion {
  value: unknown;
  references: Set<string>;
  /** `:remove` operations that removed something (carried from override variants). */
  removes?: Set<unknown>;
  /** The code of each `${@...}` met while expanding (for dependency analysis). */
  inline?: string[];
  /** With an unexpanded lookup that asked for references: the expanded value. */
  expanded?: unknown;
}

/** What `${@...}` code can see: `d`, `kiln` and the store's `jsdef` helpers. */
export type InlineScopeFactory = (d: DataStore) => object;

const SETVAR_RE = /^(.*?)(:append|:prepend|:remove)(?::([^A-Z]*))?$/;
const EXPAND_VAR_RE = /\$\{[a-zA-Z0-9\-_+./~:]+?\}/g;
const HAS_VAR_RE = /\$\{[a-zA-Z0-9\-_+./~:]+?\}/;
const OVERRIDE_RE = /^[a-z0-9]/;
const OLD_SYNTAX = ["_append", "_prepend", "_remove"];
const KEYWORDS = [":append", ":prepend", ":remove"] as const;

function newEntry(): Entry {
  return Object.create(null) as Entry;
}

function cloneEntry(e: Entry): Entry {
  const c = newEntry();
  for (const k in e) {
    const v = e[k];
    // pending-operation lists are appended to in place, so they are copied with the entry
    c[k] = k === ":append" || k === ":prepend" || k === ":remove" ? [...(v as PendingOp[])] : v;
  }
  return c;
}

function isEmpty(e: Entry): boolean {
  for (const _ in e) return false;
  return true;
}

let defaultInlineScope: InlineScopeFactory = (d) => ({ d });

/**
 * The variables `${@...}` code in `raw` reads by name (`d.getVar('X')`,
 * `kiln.utils.contains('X', ...)`), found without running it: as BitBake's
 * expandWithRefs reports them for what OVERRIDES depends on.
 */
function inlineReads(raw: string): string[] {
  const out: string[] = [];
  for (let at = raw.indexOf("${@"); at >= 0; ) {
    const end = findExpressionEnd(raw, at + 3);
    if (end < 0) break;
    out.push(...readsOfCode(raw.slice(at + 3, end)));
    at = raw.indexOf("${@", end + 1);
  }
  return out;
}

/** Per inline expression, what it reads: the same few expressions come back for every recipe parsed. */
const codeReads = new Map<string, readonly string[]>();
function readsOfCode(code: string): readonly string[] {
  let reads = codeReads.get(code);
  if (!reads) {
    try {
      const deps = jsDeps(code, true);
      reads = [...deps.vars, ...deps.contains.keys()];
    } catch {
      // code that does not parse reads nothing we can name (expanding it reports the error)
      reads = [];
    }
    codeReads.set(code, reads);
  }
  return reads;
}

/** Installed by the JS layer so plain stores also see `kiln` in `${@...}`. */
export function setDefaultInlineScope(factory: InlineScopeFactory): void {
  defaultInlineScope = factory;
}

/**
 * Variables BitBake renamed or dropped (data_smart's bitbake_renamed_vars): setting
 * one is an error naming the new name. `BB_RENAMED_VARIABLES[old] = "new"` adds more;
 * a value with a space is shown instead of "has been renamed to".
 */
export const RENAMED_VARIABLES: ReadonlyMap<string, string> = new Map([
  ["BB_ENV_WHITELIST", "BB_ENV_PASSTHROUGH"],
  ["BB_ENV_EXTRAWHITE", "BB_ENV_PASSTHROUGH_ADDITIONS"],
  ["BB_HASHBASE_WHITELIST", "BB_BASEHASH_IGNORE_VARS"],
  ["BB_HASHCONFIG_WHITELIST", "BB_HASHCONFIG_IGNORE_VARS"],
  ["BB_HASHTASK_WHITELIST", "BB_TASKHASH_IGNORE_TASKS"],
  ["BB_SETSCENE_ENFORCE_WHITELIST", "BB_SETSCENE_ENFORCE_IGNORE_TASKS"],
  ["MULTI_PROVIDER_WHITELIST", "BB_MULTI_PROVIDER_ALLOWED"],
  ["BB_STAMP_WHITELIST", "is a deprecated variable and support has been removed"],
  ["BB_STAMP_POLICY", "is a deprecated variable and support has been removed"],
]);

/** Where the errors about renamed variables set in a store are kept (BitBake marks _FAILPARSINGERRORHANDLED). */
export const RENAME_ERRORS_VAR = "__BB_RENAME_ERRORS";

/** Variables BitBake renamed, set anyway (DataStore records them): an error listing each, as BitBake halts parsing. */
export function failOnRenamedVariables(d: DataStore, what: string): void {
  const errors = d.getVar(RENAME_ERRORS_VAR, false) as string[] | undefined;
  if (!errors?.length) return;
  throw new KilnError("PARSE_ERROR", `${what} sets renamed variables:\n  ${errors.join("\n  ")}`, { hint: "use the new names (BB_RENAMED_VARIABLES lists them)" });
}

export class DataStore {
  private vars: CowMap<Entry>;
  /** Renamed variables: shared with copies until one adds to it. */
  private renames: ReadonlyMap<string, string> = RENAMED_VARIABLES;
  private overridedata: CowMap<readonly OverridePair[]>;
  private overrides: string[] | null = null;
  private overridesSet = new Set<string>();
  private overridevars: Set<string>;
  private inOverride = false;
  private expandCache = new Map<string, Expansion>();
  private expanding = new Set<string>();
  private history: VariableHistory | null;
  /** Builds the scope `${@...}` expressions and JS functions run in. */
  inlineScope: InlineScopeFactory | null = null;

  constructor(options: { history?: boolean } = {}, from?: DataStore) {
    if (from) {
      this.vars = from.vars.fork();
      this.overridedata = from.overridedata.fork();
      this.overridevars = new Set(from.overridevars);
      this.history = from.history ? from.history.copy() : null;
      this.inlineScope = from.inlineScope;
      this.renames = from.renames;
    } else {
      this.vars = new CowMap();
      this.overridedata = new CowMap();
      this.overridevars = new Set(["OVERRIDES", "FILE"]);
      this.history = options.history ? new VariableHistory() : null;
    }
  }

  /** O(1) copy-on-write copy: writes to either store never show in the other. */
  createCopy(): DataStore {
    return new DataStore({}, this);
  }

  /**
   * A throwaway copy for one synchronous evaluation, as BitBake's `:=` expands on
   * `data.createCopy()`: it sees this store as it is now, works out its active
   * overrides afresh, and what inline code sets in it never shows here. Unlike
   * createCopy it leaves this store's layers alone (no fork per `:=`, and localKeys()
   * stays whole): drop it before writing here again.
   */
  scratchCopy(): DataStore {
    const c = new DataStore();
    c.vars = this.vars.overlay();
    c.overridedata = this.overridedata.overlay();
    c.overridevars = new Set(this.overridevars);
    c.inlineScope = this.inlineScope;
    c.renames = this.renames;
    return c;
  }

  get tracking(): boolean {
    return this.history !== null;
  }

  enableHistory(): void {
    if (!this.history) this.history = new VariableHistory();
  }

  getHistory(name: string): HistoryEvent[] {
    return this.history ? this.history.get(name) : [];
  }

  /** Record a history event (for operations the parser performs itself). */
  recordHistory(variable: string, opts: SetOptions & { flag?: string }): void {
    if (!this.history || opts.ignore) return;
    this.history.record({
      variable,
      op: opts.op ?? "set",
      file: opts.file,
      line: opts.line,
      detail: opts.detail === undefined ? undefined : String(opts.detail),
      flag: opts.flag,
    });
  }

  // ---------------------------------------------------------------- writing

  private invalidate(): void {
    if (this.expandCache.size) this.expandCache = new Map();
  }

  /** The entry for `name` in this store's own layer, copied up from a parent first. */
  private ownEntry(name: string): Entry {
    if (this.vars.isOwn(name)) return this.vars.get(name) as Entry;
    const inherited = this.vars.get(name);
    const e = inherited ? cloneEntry(inherited) : newEntry();
    this.vars.set(name, e);
    return e;
  }

  setVar(name: string, value: unknown, opts: SetOptions = {}): void {
    this.invalidate();
    if (!name.startsWith("__anon_") && OLD_SYNTAX.some((k) => name.includes(k))) {
      const where = opts.file ? ` file: ${opts.file}${opts.line ? ` line: ${opts.line}` : ""}` : "";
      throw new KilnError(
        "PARSE_ERROR",
        `Variable ${name}${where} contains an operation using the old override syntax; use ':' (e.g. VAR:append)`,
      );
    }
    const colon = name.indexOf(":");
    const short = colon < 0 ? name : name.slice(0, colon);
    if (this.renames.has(short)) this.renamedVariable(short, opts, name);
    const m = SETVAR_RE.exec(name);
    if (m) {
      const [, base, keyword, override] = m;
      const e = this.ownEntry(base);
      const list = (e[keyword] as PendingOp[] | undefined) ?? [];
      list.push([value, override ?? null]);
      e[keyword] = list;
      this.recordHistory(base, {
        ...opts,
        detail: value,
        op: override ? `${keyword}[${override}]` : keyword,
      });
      if (base.includes(":")) this.updateOverrides(base);
      if (this.overridevars.has(base)) this.updateOverrideVars(base);
      return;
    }

    const e = this.ownEntry(name);
    if (!opts.parsing) {
      delete e[":append"];
      delete e[":prepend"];
      delete e[":remove"];
      const od = this.overridedata.get(name);
      if (od) {
        this.needOverrides();
        const active = od.filter(([, o]) => this.overrideActive(o)).map(([r]) => r);
        for (const a of active) this.delVar(a, { ignore: true });
        this.overridedata.delete(name);
      }
    }
    if (name.includes(":")) this.updateOverrides(name);
    e._content = value;
    this.recordHistory(name, { ...opts, detail: opts.detail ?? value, op: opts.op ?? "set" });
    if (this.overridevars.has(name)) this.updateOverrideVars(name);
  }

  setVarFlag(name: string, flag: string, value: unknown, opts: SetOptions = {}): void {
    this.invalidate();
    if (name === "BB_RENAMED_VARIABLES") this.renames = new Map([...this.renames, [flag, String(value)]]);
    if (this.renames.has(name)) this.renamedVariable(name, opts);
    this.recordHistory(name, { ...opts, flag, detail: opts.detail ?? value });
    const e = this.ownEntry(name);
    e[flag] = value;
    if (flag === "_defaultval") {
      if (name.includes(":")) this.updateOverrides(name);
      if (this.overridevars.has(name)) this.updateOverrideVars(name);
    }
  }

  /** bb's _print_rename_error: recorded once per message in RENAME_ERRORS_VAR; loading the configuration or a recipe then fails with them. */
  private renamedVariable(name: string, opts: SetOptions, full?: string): void {
    const info = [opts.file ? `file: ${opts.file}` : "", opts.line ? `line: ${opts.line}` : "", full && full !== name ? `referenced as: ${full}` : ""].filter(Boolean).join(" ");
    const rename = this.renames.get(name) as string;
    const message = `Variable ${name} ${rename.includes(" ") ? rename : `has been renamed to ${rename}`}${info ? ` (${info})` : ""}`;
    const e = this.ownEntry(RENAME_ERRORS_VAR);
    const list = (e._content as string[] | undefined) ?? [];
    if (!list.includes(message)) e._content = [...list, message];
    this.invalidate();
  }

  setVarFlags(name: string, flags: Record<string, unknown>, opts: SetOptions = {}): void {
    for (const [flag, value] of Object.entries(flags)) {
      if (flag !== "_content") this.setVarFlag(name, flag, value, opts);
    }
  }

  delVar(name: string, opts: SetOptions = {}): void {
    this.invalidate();
    this.recordHistory(name, { ...opts, op: "del", detail: "" });
    // an empty entry shadows whatever a parent store holds
    this.vars.set(name, newEntry());
    if (this.overridedata.has(name)) this.overridedata.delete(name);
    if (name.includes(":")) {
      this.forEachOverrideSplit(name, (shortvar, override) => {
        const od = this.overridedata.get(shortvar);
        if (!od) return;
        const kept = od.filter(([v, o]) => !(v === name && o === override));
        if (kept.length !== od.length) this.overridedata.set(shortvar, kept);
      });
    }
  }

  delVarFlag(name: string, flag: string, opts: SetOptions = {}): void {
    this.invalidate();
    const existing = this.vars.get(name);
    const weak = `_defaultval_flag_${flag}`;
    if (!existing || (!(flag in existing) && !(weak in existing))) return;
    this.recordHistory(name, { ...opts, op: "delFlag", flag, detail: "" });
    const e = this.ownEntry(name);
    delete e[flag];
    // as BitBake, unsetting a flag also drops its ??= default
    delete e[weak];
  }

  /**
   * BitBake's delVarFlags: every flag of `name` goes, and with them its pending
   * `:append`/`:prepend`/`:remove` and `??=` default; its value stays. Nothing to do
   * for a variable that does not exist.
   */
  delVarFlags(name: string, opts: SetOptions = {}): void {
    const existing = this.vars.get(name);
    if (!existing || isEmpty(existing)) return;
    this.invalidate();
    this.recordHistory(name, { ...opts, op: "delete flags", detail: "" });
    const e = newEntry();
    if ("_content" in existing) e._content = existing._content;
    // (an empty entry shadows what a parent store holds, as delVar's does)
    this.vars.set(name, e);
  }

  /** Deferred like `VAR:append`. */
  appendVar(name: string, value: string, opts: SetOptions = {}): void {
    this.recordHistory(name, { ...opts, op: "append", detail: value });
    this.setVar(`${name}:append`, value, { ...opts, ignore: true, parsing: true });
  }

  /** Deferred like `VAR:prepend`. */
  prependVar(name: string, value: string, opts: SetOptions = {}): void {
    this.recordHistory(name, { ...opts, op: "prepend", detail: value });
    this.setVar(`${name}:prepend`, value, { ...opts, ignore: true, parsing: true });
  }

  appendVarFlag(name: string, flag: string, value: string, opts: SetOptions = {}): void {
    this.recordHistory(name, { ...opts, op: "append", flag, detail: value });
    const old = this.getVarFlag(name, flag, false);
    this.setVarFlag(name, flag, (old === undefined || old === null ? "" : String(old)) + value, { ignore: true });
  }

  prependVarFlag(name: string, flag: string, value: string, opts: SetOptions = {}): void {
    this.recordHistory(name, { ...opts, op: "prepend", flag, detail: value });
    const old = this.getVarFlag(name, flag, false);
    this.setVarFlag(name, flag, value + (old === undefined || old === null ? "" : String(old)), { ignore: true });
  }

  renameVar(key: string, newkey: string, opts: SetOptions = {}): void {
    if (key === newkey) return;
    const val = this.getVar(key, false, { parsing: true });
    if (val !== undefined) {
      this.history?.rename(key, newkey);
      this.recordHistory(newkey, { ...opts, op: `rename from ${key}`, detail: val });
      this.setVar(newkey, val, { ignore: true, parsing: true });
    }
    for (const kw of KEYWORDS) {
      const src = this.getVarFlag(key, kw, false) as PendingOp[] | undefined;
      if (!src) continue;
      const dest = (this.getVarFlag(newkey, kw, false) as PendingOp[] | undefined) ?? [];
      this.setVarFlag(newkey, kw, [...dest, ...src], { ignore: true });
    }
    // as BitBake: other flags stay behind (and go with the old name)
    const od = this.overridedata.get(key);
    if (od) {
      this.overridedata.set(newkey, od.map(([v, o]) => [v.replace(key, newkey), o] as const));
      for (const [v] of od) this.renameVar(v, v.replace(key, newkey), { ignore: true });
    }
    if (newkey.includes(":") && val === undefined) this.updateOverrides(newkey);
    this.recordHistory(key, { ...opts, op: "rename (to)", detail: newkey });
    this.delVar(key, { ignore: true });
  }

  // ---------------------------------------------------------------- overrides

  /** Index `VAR:a:b` as a variant of `VAR:a` (override b) and of `VAR` (override a:b). */
  private updateOverrides(name: string): void {
    this.forEachOverrideSplit(name, (shortvar, override) => {
      const od = this.overridedata.get(shortvar) ?? [];
      if (od.some(([v, o]) => v === name && o === override)) return;
      this.overridedata.set(shortvar, [...od, [name, override]]);
    });
  }

  private forEachOverrideSplit(name: string, fn: (shortvar: string, override: string) => void): void {
    let cut = name.lastIndexOf(":");
    let override: string | null = name.slice(cut + 1);
    let shortvar = name.slice(0, cut);
    while (override && OVERRIDE_RE.test(override)) {
      fn(shortvar, override);
      override = null;
      cut = shortvar.lastIndexOf(":");
      if (cut >= 0) {
        override = name.slice(cut + 1);
        shortvar = name.slice(0, cut);
        if (shortvar.length === 0) override = null;
      }
    }
  }

  /** A variable that OVERRIDES depends on changed: recompute overrides lazily. */
  private updateOverrideVars(name: string): void {
    const seen = this.overridevars;
    let next = new Set<string>([name]);
    while (next.size) {
      const more = new Set<string>();
      for (const v of next) {
        seen.add(v);
        const raw = this.getVar(v, false);
        if (typeof raw !== "string") continue;
        for (const m of raw.matchAll(EXPAND_VAR_RE)) {
          const ref = m[0].slice(2, -1);
          if (!seen.has(ref)) more.add(ref);
        }
        for (const ref of inlineReads(raw)) if (!seen.has(ref)) more.add(ref);
      }
      next = more;
    }
    this.overrides = null;
  }

  private needOverrides(): void {
    if (this.overrides !== null || this.inOverride) return;
    for (let count = 0; count < 5; count++) {
      this.inOverride = true;
      this.overrides = [];
      this.overridesSet = new Set();
      try {
        this.overrides = String(this.getVar("OVERRIDES") ?? "").split(":");
      } finally {
        this.inOverride = false;
      }
      this.overridesSet = new Set(this.overrides);
      this.expandCache = new Map();
      const again = String(this.getVar("OVERRIDES") ?? "").split(":");
      if (again.join(":") === this.overrides.join(":")) return;
      this.overrides = again;
      this.overridesSet = new Set(again);
    }
    throw new KilnError("PARSE_ERROR", "OVERRIDES could not be expanded into a stable state after 5 iterations: overrides are referenced by overridden variables recursively");
  }

  private overrideActive(o: string): boolean {
    if (this.overridesSet.has(o)) return true;
    if (!o.includes(":")) return false;
    return o.split(":").every((p) => this.overridesSet.has(p));
  }

  private opMatches(override: string | null): boolean {
    if (!override) return true;
    return override.split(":").every((p) => this.overridesSet.has(p));
  }

  /** The active overrides, in OVERRIDES order. */
  getOverrides(): string[] {
    this.needOverrides();
    return [...(this.overrides ?? [])];
  }

  // ---------------------------------------------------------------- reading

  getVar(name: string, expand = true, opts: GetOptions = {}): any {
    return this.getVarFlag(name, "_content", expand, opts);
  }

  getVarFlag(name: string, flag: string, expand = true, opts: GetOptions = {}): any {
    return this.lookup(name, flag, expand, opts.noWeakDefault ?? false, opts.parsing ?? false, false).value;
  }

  /** The expanded value of `name` together with the variables it referenced. */
  expandVar(name: string, flag = "_content"): Expansion {
    return this.lookup(name, flag, true, false, false, true);
  }

  /**
   * BitBake's getVarFlag(..., expand=False, retparser=True): the unexpanded value
   * (`value`), and what expanding it gives (`expanded`) and reads (`references`,
   * `inline` code, `removes`) — what signatures hash and analyse.
   */
  parseVarFlag(name: string, flag = "_content"): Expansion {
    return this.lookup(name, flag, false, false, false, true);
  }

  private lookup(
    name: string,
    flag: string,
    expand: boolean,
    noWeakDefault: boolean,
    parsing: boolean,
    wantRefs: boolean,
  ): Expansion {
    const isContent = flag === "_content";
    const cacheName = isContent ? name : `${name}[${flag}]`;
    if (expand) {
      const cached = this.expandCache.get(cacheName);
      if (cached) return cached;
    }
    const entry = this.vars.get(name);
    let value: unknown = undefined;
    let removes: Set<unknown> | undefined;

    if (isContent && !parsing) {
      const od = this.overridedata.get(name);
      if (od && od.length) {
        this.needOverrides();
        const active = new Map<string, string>();
        for (const [r, o] of od) if (this.overrideActive(o)) active.set(o, r);
        let match: string | undefined;
        if (active.size) {
          const overrides = this.overrides ?? [];
          let mod = true;
          while (mod) {
            mod = false;
            for (const o of overrides) {
              for (const a of [...active.keys()]) {
                if (a.endsWith(`:${o}`)) {
                  const t = active.get(a) as string;
                  active.delete(a);
                  active.set(a.split(`:${o}`).join(""), t);
                  mod = true;
                } else if (a === o) {
                  match = active.get(a);
                  active.delete(a);
                }
              }
            }
          }
        }
        if (match !== undefined) {
          const sub = this.lookup(match, "_content", false, false, false, true);
          value = sub.value;
          removes = sub.removes;
        }
      }
    }

    if (entry && value === undefined) {
      if (flag in entry) value = entry[flag];
      else if (!noWeakDefault) {
        if (isContent && "_defaultval" in entry) value = entry._defaultval;
        else if (!isContent && `_defaultval_flag_${flag}` in entry) value = entry[`_defaultval_flag_${flag}`];
      }
    }

    if (isContent && entry && !parsing) {
      const appends = entry[":append"] as PendingOp[] | undefined;
      if (appends) {
        this.needOverrides();
        for (const [r, o] of appends) if (this.opMatches(o)) value = String(value ?? "") + String(r);
      }
      const prepends = entry[":prepend"] as PendingOp[] | undefined;
      if (prepends) {
        this.needOverrides();
        for (const [r, o] of prepends) if (this.opMatches(o)) value = String(r) + String(value ?? "");
      }
    }

    let result: Expansion | null = null;
    if (expand || wantRefs) result = this.expandWithRefs(value, cacheName);
    if (expand && result) value = result.value;

    if (isContent && entry && !parsing && value) {
      const ownRemoves = entry[":remove"] as PendingOp[] | undefined;
      if (ownRemoves) {
        this.needOverrides();
        for (const [r, o] of ownRemoves) {
          if (this.opMatches(o)) (removes ??= new Set()).add(r);
        }
      }
    }
    if (isContent && !parsing && value && removes && removes.size && result) {
      const expanded = new Map<unknown, Set<string>>();
      for (const r of removes) expanded.set(r, new Set(this.expand(String(r)).split(/\s+/).filter(Boolean)));
      const hit = new Set<unknown>();
      let out = "";
      for (const piece of String(result.value).split(/(\s)/)) {
        let skip = false;
        for (const [r, words] of expanded) {
          if (words.has(piece)) {
            hit.add(r);
            skip = true;
          }
        }
        if (!skip) out += piece;
      }
      result = { value: out, references: result.references, removes: hit, ...(result.inline ? { inline: result.inline } : {}) };
      if (expand) value = out;
    }

    if (result && expand) this.expandCache.set(cacheName, result);
    if (!result) return { value, references: new Set() };
    return expand ? result : { value, references: result.references, removes: result.removes, inline: result.inline, expanded: result.value };
  }

  getVarFlags(name: string, expand: boolean | string[] = false, internalFlags = false): Record<string, unknown> | undefined {
    const entry = this.vars.get(name);
    if (!entry) return undefined;
    const flags: Record<string, unknown> = {};
    let any = false;
    for (const flag in entry) {
      let shown = flag;
      if (!internalFlags && flag.startsWith("_defaultval_flag_")) {
        // a `VAR[flag] ??= ...` default shows under the flag's name unless the flag is set
        shown = flag.slice("_defaultval_flag_".length);
        if (shown in entry) continue;
      } else if (!internalFlags && (flag.startsWith("_") || flag.startsWith(":"))) continue;
      let v = entry[flag];
      if ((expand === true || (Array.isArray(expand) && expand.includes(shown))) && typeof v === "string") {
        v = this.expand(v, `${name}[${shown}]`);
      }
      flags[shown] = v;
      any = true;
    }
    return any ? flags : undefined;
  }

  /** Every variable name, as BitBake's iteration: set ones plus those with an active override. */
  keys(): string[] {
    const out = new Set<string>();
    for (const k of this.vars.keys()) {
      const e = this.vars.get(k) as Entry;
      if (!isEmpty(e)) out.add(k);
    }
    const withOverrides = this.overridedata.keys();
    if (withOverrides.size) {
      this.needOverrides();
      for (const v of withOverrides) {
        const od = this.overridedata.get(v) ?? [];
        if (od.some(([, o]) => this.overrideActive(o))) out.add(v);
      }
    }
    return [...out];
  }

  /** Names set in this store itself rather than inherited from the store it was copied from. */
  localKeys(): string[] {
    return this.vars.ownKeys();
  }

  // ---------------------------------------------------------------- expansion

  expand(text: string, varname?: string): string {
    return String(this.expandWithRefs(text, varname).value);
  }

  expandWithRefs(input: unknown, varname?: string): Expansion {
    const references = new Set<string>();
    const inline: string[] = [];
    if (typeof input !== "string") return { value: input, references };
    let s: string = input;
    if (varname) {
      if (this.expanding.has(varname)) {
        throw new ExpansionError(varname, s, `variable ${varname} references itself (through ${[...this.expanding].join(" -> ")})`);
      }
      this.expanding.add(varname);
    }
    try {
      while (s.includes("${")) {
        const olds: string = s;
        s = s.replace(EXPAND_VAR_RE, (match: string) => {
          const key = match.slice(2, -1);
          if (varname && key === varname) {
            throw new ExpansionError(varname, olds, `variable ${varname} references itself!`);
          }
          references.add(key);
          const v = this.lookup(key, "_content", true, false, false, false).value;
          return v === undefined || v === null ? match : String(v);
        });
        s = this.expandInline(s, varname, inline);
        if (s === olds) break;
      }
    } catch (err) {
      if (err instanceof KilnError) throw err;
      throw new ExpansionError(varname, String(s), err instanceof Error ? err.message : String(err), { cause: err });
    } finally {
      if (varname) this.expanding.delete(varname);
    }
    return inline.length ? { value: s, references, inline } : { value: s, references };
  }

  private expandInline(s: string, varname: string | undefined, inline: string[]): string {
    let at = s.indexOf("${@");
    if (at < 0) return s;
    let out = "";
    let from = 0;
    while (at >= 0) {
      const end = findExpressionEnd(s, at + 3);
      if (end < 0) break;
      const code = s.slice(at + 3, end);
      inline.push(code);
      out += s.slice(from, at);
      if (HAS_VAR_RE.test(code)) {
        // BitBake leaves code holding an unexpandable reference unevaluated
        out += s.slice(at, end + 1);
      } else {
        let value: unknown;
        try {
          const scope = (this.inlineScope ?? defaultInlineScope)(this);
          value = evaluateInline(code, scope);
        } catch (err) {
          if (err instanceof KilnError && err.code !== "EXPANSION_ERROR") throw err;
          const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
          throw new ExpansionError(varname, code.trim(), `expression \${@${code.trim()}} raised ${why}`, { cause: err });
        }
        if (value instanceof Promise) {
          throw new ExpansionError(varname, code.trim(), "inline ${@...} code must not be async");
        }
        out += inlineResultToString(value);
      }
      from = end + 1;
      at = s.indexOf("${@", from);
    }
    return out + s.slice(from);
  }
}
