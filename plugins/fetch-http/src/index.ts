/**
 * @kiln/fetch-http: downloads http:// and https:// URLs for core's fetcher (which
 * owns mirrors, checksums, locks and DL_DIR) with node:http(s), following redirects; a transfer that stalls longer than BB_FETCH_TIMEOUT
 * seconds (default 30) is abandoned so the next mirror can be tried. A partial
 * file left by an interrupted download is resumed with a Range request when the
 * server allows it (206), and started over when it does not (200).
 */
import { createWriteStream, existsSync, statSync } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Kiln, KilnPlugin } from "@kiln/core";

export const PLUGIN_NAME = "kiln:fetch-http";
export const schemes = ["http", "https"] as const;

/** Redirects followed before giving up (as browsers and curl -L do, roughly). */
const MAX_REDIRECTS = 10;

/**
 * GET `url` with node:http(s), following redirects. (Not the global fetch: its first
 * request in a process costs ~30 ms of setup, which every parse that checks a
 * Debian suite's InRelease paid.)
 */
function get(url: string, headers: Record<string, string>, signal: AbortSignal, hops = 0): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const request = u.protocol === "https:" ? httpsRequest : u.protocol === "http:" ? httpRequest : undefined;
    if (!request) return reject(new Error(`not an http(s) URL: ${url}`));
    const req = request(u, { headers, signal }, (res) => {
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (status >= 300 && status < 400 && location) {
        res.resume();
        if (hops >= MAX_REDIRECTS) return reject(new Error(`more than ${MAX_REDIRECTS} redirects`));
        return resolve(get(new URL(location, u).href, headers, signal, hops + 1));
      }
      resolve(res);
    });
    req.on("error", reject);
    req.end();
  });
}

export async function download(url: string, dest: string, idleSeconds: number): Promise<true> {
  const controller = new AbortController();
  let timer = setTimeout(() => controller.abort(new Error(`no data for ${idleSeconds} s`)), idleSeconds * 1000);
  const touch = () => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new Error(`no data for ${idleSeconds} s`)), idleSeconds * 1000);
  };
  try {
    const have = existsSync(dest) ? statSync(dest).size : 0;
    const res = await get(url, have > 0 ? { range: `bytes=${have}-` } : {}, controller.signal);
    const status = res.statusCode ?? 0;
    if (status === 416 && have > 0) {
      // already complete (or longer than the file): let the checksum decide
      res.resume();
      return true;
    }
    if (status < 200 || status >= 300) {
      res.resume();
      throw new Error(`HTTP ${status} ${res.statusMessage ?? ""}`.trim());
    }
    const resumed = status === 206 && have > 0;
    const watch = new Transform({
      transform(chunk, _enc, cb) {
        touch();
        cb(null, chunk);
      },
    });
    await pipeline(res, watch, createWriteStream(dest, { flags: resumed ? "a" : "w" }), { signal: controller.signal });
    return true;
  } catch (err) {
    // the abort's reason (a stall) says more than "The operation was aborted"
    if (controller.signal.aborted && controller.signal.reason instanceof Error) throw controller.signal.reason;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

export const plugin: KilnPlugin<Kiln> = {
  name: PLUGIN_NAME,
  apply(kiln) {
    for (const scheme of schemes) {
      kiln.hooks.fetch.for(scheme).tapPromise(PLUGIN_NAME, (url, dest, d) => {
        const idle = Number(d.getVar("BB_FETCH_TIMEOUT") ?? "") || 30;
        return download(url, dest, idle);
      });
    }
  },
};

export default plugin;
