/**
 * SSTATE_MIRRORS: `REGEX URL` pairs (whitespace or `\n` separated, as BitBake's);
 * an object `file://<shard>/<name>` matching REGEX may be found at URL with `PATH`
 * replaced by `<shard>/<name>`. `file://` and `http(s)://` URLs. Availability is
 * checked for many objects at once with bounded concurrency (Node's fetch keeps
 * connections alive); a mirror that errs, times out (SSTATE_MIRROR_TIMEOUT seconds,
 * default 10) or says 404/500 just doesn't have the object.
 */
import { copyFileSync, createWriteStream, existsSync, rmSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";

export interface Mirror {
  pattern: RegExp;
  url: string;
}

/** Parse SSTATE_MIRRORS; a pair whose regex does not compile is reported by the caller. */
export function parseMirrors(value: string | undefined, warn: (m: string) => void = () => undefined): Mirror[] {
  const words = String(value ?? "")
    .replace(/\\n/g, " ")
    .split(/\s+/)
    .filter(Boolean);
  const out: Mirror[] = [];
  for (let i = 0; i + 1 < words.length; i += 2) {
    try {
      out.push({ pattern: new RegExp(words[i]), url: words[i + 1] });
    } catch (err) {
      warn(`SSTATE_MIRRORS: '${words[i]}' is not a regular expression (${(err as Error).message}); pair ignored`);
    }
  }
  return out;
}

/** Where a mirror would hold object `rel` (`<shard>/<name>`), in mirror order. */
export function mirrorUrls(mirrors: Mirror[], rel: string): string[] {
  const local = `file://${rel}`;
  return mirrors.filter((m) => m.pattern.test(local)).map((m) => m.url.replaceAll("PATH", rel.split("/").map(encodeURIComponent).join("/")));
}

/** How long an availability check waits (SSTATE_MIRROR_TIMEOUT, seconds). */
export const DEFAULT_HEAD_TIMEOUT_MS = 10_000;
const GET_TIMEOUT_MS = 120_000;

// HEAD through node:http with keep-alive agents: Node's fetch closes the connection
// after every HEAD response (undici), which made 5000 checks take 3 s instead of < 1 s
const agents = { http: new http.Agent({ keepAlive: true, maxSockets: 32 }), https: new https.Agent({ keepAlive: true, maxSockets: 32 }) };

export function urlExists(url: string, timeoutMs = DEFAULT_HEAD_TIMEOUT_MS): Promise<boolean> {
  if (url.startsWith("file://")) return Promise.resolve(existsSync(fileURLToPath(url)));
  const secure = url.startsWith("https:");
  return new Promise((resolve) => {
    let settled = false;
    const done = (ok: boolean) => {
      if (!settled) {
        settled = true;
        resolve(ok);
      }
    };
    try {
      const req = (secure ? https : http).request(url, { method: "HEAD", agent: secure ? agents.https : agents.http, timeout: timeoutMs }, (res) => {
        res.resume();
        done((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300);
      });
      req.on("timeout", () => {
        req.destroy();
        done(false);
      });
      req.on("error", () => done(false));
      req.end();
    } catch {
      done(false);
    }
  });
}

/** Copy or download `url` to `dest` (the caller verifies and renames); throws when it cannot. */
export async function download(url: string, dest: string): Promise<void> {
  try {
    if (url.startsWith("file://")) {
      copyFileSync(fileURLToPath(url), dest);
      return;
    }
    const res = await fetch(url, { signal: AbortSignal.timeout(GET_TIMEOUT_MS) });
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
    await pipeline(Readable.fromWeb(res.body as import("node:stream/web").ReadableStream), createWriteStream(dest));
  } catch (err) {
    rmSync(dest, { force: true });
    throw new Error(`cannot fetch ${url}: ${(err as Error).message}`);
  }
}

/** For each item, the first mirror URL holding its object; items run `concurrency` at a time. */
export async function findOnMirrors<K>(items: { key: K; rel: string }[], mirrors: Mirror[], concurrency = 32, timeoutMs = DEFAULT_HEAD_TIMEOUT_MS): Promise<Map<K, string>> {
  const found = new Map<K, string>();
  if (!mirrors.length) return found;
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++];
      for (const url of mirrorUrls(mirrors, item.rel)) {
        if (await urlExists(url, timeoutMs)) {
          found.set(item.key, url);
          break;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return found;
}
