/**
 * SRC_URI entries as BitBake reads them: `scheme://host/path;name=value;...`, and
 * `file://relative/path` found along FILESPATH. Parameters keep their order-free
 * meaning: `name`, `subdir`, `unpack`, `downloadfilename`, `striplevel`, `apply`,
 * `patchdir`, and scheme-specific ones (`branch`, `rev`, `protocol` for git).
 */
import { basename } from "node:path";
import type { DataStore } from "../data/datastore.js";
import { KilnError } from "../errors.js";

export interface SrcUri {
  /** The entry as written, without parameters. */
  url: string;
  scheme: string;
  /** `host[:port]` (empty for file://). */
  host: string;
  /** The path (for file://, relative to FILESPATH unless absolute). */
  path: string;
  params: Record<string, string>;
}

export function parseSrcUri(entry: string): SrcUri {
  const [url, ...rest] = entry.split(";");
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/.exec(url);
  if (!m) throw new KilnError("PARSE_ERROR", `SRC_URI entry '${entry}' is not of the form scheme://path`);
  const scheme = m[1].toLowerCase();
  let host = "";
  let path = m[2];
  if (scheme !== "file") {
    const slash = path.indexOf("/");
    host = slash < 0 ? path : path.slice(0, slash);
    path = slash < 0 ? "/" : path.slice(slash);
  }
  const params: Record<string, string> = {};
  for (const p of rest) {
    if (!p) continue;
    const eq = p.indexOf("=");
    if (eq < 0) throw new KilnError("PARSE_ERROR", `SRC_URI entry '${entry}': parameter '${p}' is not name=value`);
    params[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return { url, scheme, host, path, params };
}

export function srcUris(d: DataStore): SrcUri[] {
  return String(d.getVar("SRC_URI") ?? "")
    .split(/\s+/)
    .filter(Boolean)
    .map(parseSrcUri);
}

/** The file name an entry has once fetched. */
export function fetchedName(u: SrcUri): string {
  return u.params.downloadfilename ?? basename(u.path);
}
