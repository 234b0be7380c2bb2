/**
 * do_unpack (BitBake's fetch2 unpack): every SRC_URI entry (unless `unpack=0`) into
 * WORKDIR (or `subdir`): tar archives — .tar, .tar.gz/.tgz, .tar.xz/.txz, .tar.zst,
 * .tar.bz2/.tbz2 — are extracted with every member checked (nothing escapes the
 * destination; errors name the archive and the member); other files are copied.
 */
import { copyFileSync, createReadStream, mkdirSync, statSync, cpSync } from "node:fs";
import { basename, join } from "node:path";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { execa } from "execa";
import type { DataStore } from "../data/datastore.js";
import { FetchError } from "../errors.js";
import type { KilnHooks } from "../hooks.js";
import { extractTarStream } from "../util/safe-tar.js";
import { localPath } from "./download.js";
import { fetchedName, srcUris } from "./uri.js";

type Kind = "tar" | "gz" | "xz" | "zst" | "bz2";

function archiveKind(name: string): Kind | undefined {
  if (/\.(tar\.gz|tgz)$/.test(name)) return "gz";
  if (/\.(tar\.xz|txz)$/.test(name)) return "xz";
  if (/\.tar\.zst$/.test(name)) return "zst";
  if (/\.(tar\.bz2|tbz2?)$/.test(name)) return "bz2";
  if (/\.tar$/.test(name)) return "tar";
  return undefined;
}

/** The decompressed tar bytes of an archive, and a promise for the decompressor's end. */
async function tarStream(path: string, kind: Kind): Promise<{ stream: NodeJS.ReadableStream; done: Promise<unknown> }> {
  switch (kind) {
    case "tar":
      return { stream: createReadStream(path), done: Promise.resolve() };
    case "gz":
      return { stream: createReadStream(path).pipe(createGunzip()), done: Promise.resolve() };
    case "xz": {
      const lzma = (await import("lzma-native")).default;
      return { stream: createReadStream(path).pipe(lzma.createDecompressor()), done: Promise.resolve() };
    }
    case "zst":
    case "bz2": {
      const p = execa(kind === "zst" ? "zstd" : "bzip2", ["-d", "-c", path], { stdout: "pipe", buffer: false, stdin: "ignore" });
      return { stream: p.stdout as Readable, done: p };
    }
  }
}

export async function unpackSources(d: DataStore, hooks?: KilnHooks): Promise<void> {
  const workdir = String(d.getVar("WORKDIR"));
  for (const u of srcUris(d)) {
    if (u.params.unpack === "0" || u.params.unpack === "no") continue;
    const special = hooks?.unpack.get(u.scheme);
    if (special?.isUsed()) {
      const dest = u.params.subdir ? join(workdir, u.params.subdir) : workdir;
      mkdirSync(dest, { recursive: true });
      if (await special.promise(u, dest, d)) continue;
    }
    const from = localPath(u, d);
    const dest = u.params.subdir ? join(workdir, u.params.subdir) : workdir;
    mkdirSync(dest, { recursive: true });
    const name = fetchedName(u);
    const kind = archiveKind(name);
    if (!kind) {
      // plain files (and directories, for file://) are copied, as BitBake does
      const target = join(dest, u.scheme === "file" ? u.path.replace(/^\/+/, "") : name);
      mkdirSync(join(target, ".."), { recursive: true });
      if (statSync(from).isDirectory()) cpSync(from, target, { recursive: true });
      else copyFileSync(from, target);
      continue;
    }
    const strip = u.params.striplevel ? Number(u.params.striplevel) : 0;
    try {
      const { stream, done } = await tarStream(from, kind);
      await Promise.all([extractTarStream(stream, dest, `archive ${basename(from)}`, { strip }), done]);
    } catch (err) {
      throw new FetchError(`Unpacking ${u.url} failed: ${(err as Error).message}`, { url: u.url, cause: err });
    }
  }
}
