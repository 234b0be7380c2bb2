/**
 * The parse cache (DESIGN §3): per recipe, the RecipeInfo plus the content hash of
 * every file its parse read (and every path it looked for and did not find), in one
 * file per configuration hash under ${CACHE}. An entry is reused only when each of
 * those files still has the same content; a stat (mtime, size) match skips reading
 * a file again. Reads that fail are a logged miss, never a crash; writes go to a
 * temp name and are renamed.
 */
import { mkdirSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RecipeInfo } from "../layers/recipe-info.js";
import { sha256 } from "../parse/files.js";

/** Bump when the cached shape or parse semantics change. */
export const PARSE_CACHE_VERSION = "kiln-parse-7";

/** [path, content hash or null when absent, mtimeMs, size]. */
export type FileStamp = [string, string | null, number, number];

export interface CacheEntry {
  appends: string[];
  files: FileStamp[];
  info: RecipeInfo;
  /** The recipe's BBCLASSEXTEND variants, parsed with it. */
  variants?: RecipeInfo[];
}

interface CacheFile {
  version: string;
  configHash: string;
  entries: Record<string, CacheEntry>;
}

export class FileStamps {
  private known = new Map<string, FileStamp>();

  /** The current stamp of a path; `previous` lets a stat match skip hashing. */
  stamp(path: string, previous?: FileStamp): FileStamp {
    const hit = this.known.get(path);
    if (hit) return hit;
    let st;
    try {
      st = statSync(path);
    } catch {
      const absent: FileStamp = [path, null, 0, 0];
      this.known.set(path, absent);
      return absent;
    }
    let stamp: FileStamp;
    if (previous && previous[1] !== null && previous[2] === st.mtimeMs && previous[3] === st.size) {
      stamp = previous;
    } else {
      stamp = [path, sha256(readFileSync(path)), st.mtimeMs, st.size];
    }
    this.known.set(path, stamp);
    return stamp;
  }

  /** Stamps for files whose hashes the parser computed already. */
  fromSession(files: Map<string, string | null>): FileStamp[] {
    const out: FileStamp[] = [];
    for (const [path, hash] of files) {
      if (hash === null) {
        out.push([path, null, 0, 0]);
        continue;
      }
      try {
        const st = statSync(path);
        const s: FileStamp = [path, hash, st.mtimeMs, st.size];
        this.known.set(path, s);
        out.push(s);
      } catch {
        out.push([path, null, 0, 0]);
      }
    }
    return out;
  }
}

export class ParseCache {
  readonly path: string;
  private entries: Record<string, CacheEntry>;
  private dirty = false;
  /** Why the cache could not be used, when it could not. */
  readonly missReason: string | null;

  private constructor(readonly dir: string, readonly configHash: string, entries: Record<string, CacheEntry>, missReason: string | null) {
    this.path = join(dir, `kiln-parse.${configHash.slice(0, 16)}.json`);
    this.entries = entries;
    this.missReason = missReason;
  }

  static load(dir: string, configHash: string): ParseCache {
    const path = join(dir, `kiln-parse.${configHash.slice(0, 16)}.json`);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch {
      return new ParseCache(dir, configHash, {}, "no cache for this configuration");
    }
    try {
      const data = JSON.parse(text) as CacheFile;
      if (data.version !== PARSE_CACHE_VERSION || data.configHash !== configHash) {
        return new ParseCache(dir, configHash, {}, "cache written by another version or configuration");
      }
      return new ParseCache(dir, configHash, data.entries, null);
    } catch (err) {
      return new ParseCache(dir, configHash, {}, `cache file unreadable (${(err as Error).message})`);
    }
  }

  /** The cached infos of a recipe (itself, then its variants) if every file it read is unchanged. */
  lookup(file: string, appends: string[], stamps: FileStamps): RecipeInfo[] | null {
    const e = this.entries[file];
    if (!e) return null;
    if (e.appends.length !== appends.length || e.appends.some((a, i) => a !== appends[i])) return null;
    for (const prev of e.files) {
      const now = stamps.stamp(prev[0], prev);
      if (now[1] !== prev[1]) return null;
    }
    return e.variants ? [e.info, ...e.variants] : [e.info];
  }

  store(file: string, entry: CacheEntry): void {
    this.entries[file] = entry;
    this.dirty = true;
  }

  /** Forget one recipe (one that must not be cached any more). */
  drop(file: string): void {
    if (!(file in this.entries)) return;
    delete this.entries[file];
    this.dirty = true;
  }

  /** Drop entries for recipes that no longer exist. */
  retain(files: Set<string>): void {
    for (const f of Object.keys(this.entries)) {
      if (!files.has(f)) {
        delete this.entries[f];
        this.dirty = true;
      }
    }
  }

  save(): void {
    if (!this.dirty) return;
    mkdirSync(this.dir, { recursive: true });
    const tmp = `${this.path}.tmp.${process.pid}`;
    const data: CacheFile = { version: PARSE_CACHE_VERSION, configHash: this.configHash, entries: this.entries };
    writeFileSync(tmp, JSON.stringify(data));
    renameSync(tmp, this.path);
    this.dirty = false;
    // caches of other configurations are stale once this one is written
    for (const f of readdirSync(this.dir)) {
      if (/^kiln-parse\.[0-9a-f]+\.json$/.test(f) && join(this.dir, f) !== this.path) {
        try {
          unlinkSync(join(this.dir, f));
        } catch {
          // another build may have removed it already
        }
      }
    }
  }
}
