/**
 * IMAGE_FSTYPES: each type is a writer keyed by its name (`tar`, `tar.gz`,
 * `tar.xz`, `tar.zst`; a plugin may register more). The tar is core's
 * deterministic `packTar` over the rootfs — sorted, owned by root, every mtime
 * SOURCE_DATE_EPOCH — and the compressors are @kiln/package's, deterministic too
 * (gzip without a name or time; xz and zstd on every core with output that does not
 * depend on the thread count), so the same rootfs gives the same bytes.
 * Each file is written to a temp name and renamed.
 */
import { createWriteStream, lstatSync, openSync, renameSync, rmSync } from "node:fs";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { packTar, treeMembers, type DataStore, type Kiln, type TreeMember } from "@kiln/core";
import { compressToFile, type Compression } from "@kiln/package";

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

/**
 * The rootfs as tar members: `./` first, then everything below it, sorted, with their
 * owners (numeric, as OE's and mmdebstrap's tars; what this process owns is root's):
 * a rootfs assembled as root has files of other owners (`chage`, setgid `shadow`).
 */
export function rootfsMembers(rootfs: string): TreeMember[] {
  const st = lstatSync(rootfs);
  const mine = (id: number, own: number | undefined) => (id === own ? 0 : id);
  const top: TreeMember = { name: "./", path: rootfs, type: "directory", mode: st.mode & 0o7777, uid: mine(st.uid, process.getuid?.()), gid: mine(st.gid, process.getgid?.()) };
  return [top, ...treeMembers(rootfs, ".", { slashDirs: true, owners: true })];
}

/** A tar of the rootfs, compressed by @kiln/package's compressors (streamed, every core, same bytes for any thread count). */
function tarImage(type: string, how?: Compression, levelVar = "", defaultLevel = 0): ImageType {
  return {
    type,
    async write(rootfs, out, d, signal) {
      const epoch = Number.parseInt(String(d.getVar("SOURCE_DATE_EPOCH") ?? "0"), 10) || 0;
      const members = rootfsMembers(rootfs);
      const tar = packTar(members, epoch) as unknown as Readable;
      const abort = () => tar.destroy(signal.reason instanceof Error ? signal.reason : new Error("interrupted"));
      signal.addEventListener("abort", abort, { once: true });
      try {
        // fd opened synchronously: an async open could create `out` after a failure removed it
        if (!how) return await pipeline(tar, createWriteStream(out, { fd: openSync(out, "w") }), { signal });
        // the tar's size, for zstd's and xz's job sizes (deterministic: it shapes the output)
        const size = members.reduce((n, m) => n + 512 + (m.type === "file" ? Math.ceil((m.size ?? 0) / 512) * 512 : 0), 1024);
        await compressToFile(tar, how, out, { level: level(d, levelVar, defaultLevel), size });
      } finally {
        signal.removeEventListener("abort", abort);
      }
    },
  };
}

// levels: OpenEmbedded's defaults (gzip -9, xz -6, zstd -3)
export const BUILTIN_IMAGE_TYPES: ImageType[] = [
  tarImage("tar"),
  tarImage("tar.gz", "gz", "GZIP_COMPRESSION_LEVEL", 9),
  tarImage("tar.xz", "xz", "XZ_COMPRESSION_LEVEL", 6),
  tarImage("tar.zst", "zst", "ZSTD_COMPRESSION_LEVEL", 3),
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
