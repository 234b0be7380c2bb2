/**
 * IMAGE_FSTYPES: each type is a writer keyed by its name (`tar`, `tar.gz`,
 * `tar.xz`, `tar.zst`; a plugin may register more). The tar is core's
 * deterministic `packTar` over the rootfs — sorted, owned by root, every mtime
 * SOURCE_DATE_EPOCH — and the compressors are deterministic too (gzip without a
 * name or time, xz and zstd single-threaded), so the same rootfs gives the same bytes.
 * Each file is written to a temp name and renamed.
 */
import { createWriteStream, lstatSync, renameSync, rmSync } from "node:fs";
import type { Duplex } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { execa } from "execa";
import { packTar, treeMembers, type DataStore, type Kiln, type TreeMember } from "@kiln/core";

export interface ImageType {
  /** IMAGE_FSTYPES word, also the file's suffix: `${IMAGE_NAME}.rootfs.<type>`. */
  type: string;
  /** Write the image of `rootfs` to `out` (a temp name the caller renames). */
  write(rootfs: string, out: string, d: DataStore, signal: AbortSignal): Promise<void>;
}

const level = (d: DataStore, name: string, fallback: number) => {
  const v = Number.parseInt(String(d.getVar(name) ?? "").replace(/^-/, ""), 10);
  return Number.isInteger(v) ? v : fallback;
};

/** The rootfs as tar members: `./` first, then everything below it, sorted. */
export function rootfsMembers(rootfs: string): TreeMember[] {
  return [{ name: "./", path: rootfs, type: "directory", mode: lstatSync(rootfs).mode & 0o7777 }, ...treeMembers(rootfs, ".", { slashDirs: true })];
}

function tarImage(compressor: ((d: DataStore, signal: AbortSignal) => Duplex | Promise<Duplex>) | undefined, type: string): ImageType {
  return {
    type,
    async write(rootfs, out, d, signal) {
      const epoch = Number.parseInt(String(d.getVar("SOURCE_DATE_EPOCH") ?? "0"), 10) || 0;
      const stages: (NodeJS.ReadableStream | NodeJS.WritableStream | Duplex)[] = [packTar(rootfsMembers(rootfs), epoch)];
      if (compressor) stages.push(await compressor(d, signal));
      stages.push(createWriteStream(out));
      await pipeline(stages as unknown as [NodeJS.ReadableStream, NodeJS.WritableStream], { signal });
    },
  };
}

/** zstd as a stream through the `zstd` program (the format DESIGN §6 settles on elsewhere too). */
function zstdStream(d: DataStore, signal: AbortSignal): Duplex {
  const proc = execa("zstd", ["-q", "-c", `-${level(d, "ZSTD_COMPRESSION_LEVEL", 3)}`, "-T1"], { encoding: "buffer", cancelSignal: signal, stdin: "pipe", stdout: "pipe" });
  const duplex = proc.duplex({ binary: true });
  // a failure of zstd itself surfaces through the duplex; the promise must not go unhandled
  proc.catch(() => undefined);
  return duplex;
}

async function xzStream(d: DataStore): Promise<Duplex> {
  const lzma = (await import("lzma-native")).default;
  return lzma.createCompressor({ preset: level(d, "XZ_COMPRESSION_LEVEL", 6), threads: 1 });
}

export const BUILTIN_IMAGE_TYPES: ImageType[] = [
  tarImage(undefined, "tar"),
  tarImage((d) => createGzip({ level: level(d, "GZIP_COMPRESSION_LEVEL", 9) }), "tar.gz"),
  tarImage(xzStream, "tar.xz"),
  tarImage(zstdStream, "tar.zst"),
];

const imageTypes = new WeakMap<Kiln, Map<string, ImageType>>();

/** Make `t.type` a valid IMAGE_FSTYPES word. */
export function registerImageType(kiln: Kiln, t: ImageType): void {
  const map = imageTypes.get(kiln) ?? new Map<string, ImageType>();
  imageTypes.set(kiln, map);
  map.set(t.type, t);
}

export function imageType(kiln: Kiln, type: string): ImageType | undefined {
  return imageTypes.get(kiln)?.get(type);
}

export function imageTypeNames(kiln: Kiln): string[] {
  return [...(imageTypes.get(kiln)?.keys() ?? [])].sort();
}

/** Write through `write` into `out` atomically: a temp name beside it, renamed when complete. */
export async function writeAtomically(out: string, write: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = `${out}.tmp.${process.pid}`;
  try {
    await write(tmp);
    renameSync(tmp, out);
  } finally {
    rmSync(tmp, { force: true });
  }
}
