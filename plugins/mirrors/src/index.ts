/**
 * @kiln/mirrors: PREMIRRORS (tried before the upstream URL) and MIRRORS (after),
 * each a list of `REGEX REPLACEMENT` pairs separated by whitespace or `\n`, as
 * BitBake's. A pair whose REGEX matches the URL gives REPLACEMENT with BitBake's
 * substitutions — TYPE (scheme), HOST, PATH (the path without its leading `/`),
 * BASENAME, MIRRORNAME (host and path joined with dots) — and, when it ends with
 * `/`, the file's basename appended. BB_FETCH_PREMIRRORONLY = "1" keeps only the
 * premirrors. Core tries the candidates in order; the first with a correct checksum wins.
 */
import { basename } from "node:path";
import type { DataStore, Kiln, KilnPlugin, SrcUri } from "@kiln/core";

export const PLUGIN_NAME = "kiln:mirrors";

export interface MirrorPair {
  pattern: RegExp;
  replacement: string;
}

export function parsePairs(value: unknown, warn: (m: string) => void = () => undefined): MirrorPair[] {
  const words = String(value ?? "")
    .replace(/\\n/g, " ")
    .split(/\s+/)
    .filter(Boolean);
  const out: MirrorPair[] = [];
  for (let i = 0; i + 1 < words.length; i += 2) {
    try {
      out.push({ pattern: new RegExp(words[i]), replacement: words[i + 1] });
    } catch (err) {
      warn(`mirror pattern '${words[i]}' is not a regular expression (${(err as Error).message}); pair ignored`);
    }
  }
  return out;
}

/** The candidate URLs a list of pairs gives for one SRC_URI entry. */
export function rewrite(pairs: MirrorPair[], u: SrcUri): string[] {
  const path = u.path.replace(/^\/+/, "");
  const name = u.params.downloadfilename ?? basename(u.path);
  const mirrorname = `${u.host.replace(/:/g, ".")}.${path.replace(/[/*]/g, ".")}`;
  const out: string[] = [];
  for (const { pattern, replacement } of pairs) {
    if (!pattern.test(u.url)) continue;
    let url = replacement.replaceAll("TYPE", u.scheme).replaceAll("HOST", u.host).replaceAll("BASENAME", name).replaceAll("MIRRORNAME", mirrorname).replaceAll("PATH", path);
    if (url.endsWith("/")) url += name;
    if (url !== u.url && !out.includes(url)) out.push(url);
  }
  return out;
}

function candidates(urls: string[], u: SrcUri, d: DataStore, warn: (m: string) => void): string[] {
  const pre = rewrite(parsePairs(d.getVar("PREMIRRORS"), warn), u);
  if (String(d.getVar("BB_FETCH_PREMIRRORONLY") ?? "") === "1") return pre;
  const post = rewrite(parsePairs(d.getVar("MIRRORS"), warn), u);
  return [...new Set([...pre, ...urls, ...post])];
}

export const plugin: KilnPlugin<Kiln> = {
  name: PLUGIN_NAME,
  apply(kiln) {
    const warn = (message: string) => kiln.hooks.log.call({ type: "Log", level: "warn", message, time: Date.now() });
    kiln.hooks.resolveUrls.tap(PLUGIN_NAME, (urls, u, d) => candidates(urls, u, d, warn));
  },
};

export default plugin;
