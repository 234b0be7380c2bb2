/**
 * @kiln/fetch-http: downloads http:// and https:// URLs for core's fetcher (which
 * owns mirrors, checksums, locks and DL_DIR). Node's fetch follows redirects and
 * keeps connections alive; a transfer that stalls longer than BB_FETCH_TIMEOUT
 * seconds (default 30) is abandoned so the next mirror can be tried. A partial
 * file left by an interrupted download is resumed with a Range request when the
 * server allows it (206), and started over when it does not (200).
 */
import { createWriteStream, existsSync, statSync } from "node:fs";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Kiln, KilnPlugin } from "@kiln/core";

export const PLUGIN_NAME = "kiln:fetch-http";
export const schemes = ["http", "https"] as const;

export async function download(url: string, dest: string, idleSeconds: number): Promise<true> {
  const controller = new AbortController();
  let timer = setTimeout(() => controller.abort(new Error(`no data for ${idleSeconds} s`)), idleSeconds * 1000);
  const touch = () => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new Error(`no data for ${idleSeconds} s`)), idleSeconds * 1000);
  };
  try {
    const have = existsSync(dest) ? statSync(dest).size : 0;
    const res = await fetch(url, { redirect: "follow", signal: controller.signal, headers: have > 0 ? { range: `bytes=${have}-` } : {} });
    if (res.status === 416 && have > 0) {
      // already complete (or longer than the file): let the checksum decide
      await res.body?.cancel();
      return true;
    }
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status} ${res.statusText}`);
    const resumed = res.status === 206 && have > 0;
    const watch = new Transform({
      transform(chunk, _enc, cb) {
        touch();
        cb(null, chunk);
      },
    });
    await pipeline(Readable.fromWeb(res.body as import("node:stream/web").ReadableStream), watch, createWriteStream(dest, { flags: resumed ? "a" : "w" }), {
      signal: controller.signal,
    });
    return true;
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
