/**
 * IMAGE_FSTYPES: each type is a writer keyed by its name (`tar`, `tar.gz`,
 * `tar.xz`, `tar.zst`; a plugin may register more). The tar is GNU tar's with OE's
 * reproducible options (imageTarArgs) — sorted, every mtime SOURCE_DATE_EPOCH, owners
 * by number — and the compressors are @kiln/package's, deterministic too (gzip
 * without a name or time; xz and zstd on every core with output that does not depend
 * on the thread count), so the same rootfs gives the same bytes. Each file is
 * written to a temp name and renamed.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, createWriteStream, openSync, renameSync, rmSync } from "node:fs";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { KilnError, type DataStore, type Kiln } from "@kiln/core";
import { compressorCommand, type Compression } from "@kiln/package";

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
 * GNU tar's arguments for a reproducible image of `rootfs` on stdout, as OE's image
 * tars: sorted, POSIX format without access/change times, every mtime
 * SOURCE_DATE_EPOCH, owners by number (what this process owns is root's, so an
 * unprivileged build gives a root-owned image; one made as root keeps the packages'
 * owners). Hard links stay links, device nodes and FIFOs are archived.
 */
export function imageTarArgs(rootfs: string, epoch: number): string[] {
  const asRoot = process.getuid?.() === 0;
  return [
    "--create",
    "--file=-",
    `--directory=${rootfs}`,
    "--sort=name",
    "--format=posix",
    "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
    `--mtime=@${epoch}`,
    "--numeric-owner",
    ...(asRoot ? [] : ["--owner=0", "--group=0"]),
    ".",
  ];
}

/** The first lines of what a program wrote to stderr. */
function collectStderr(child: ChildProcess): () => string {
  const chunks: Buffer[] = [];
  child.stderr?.on("data", (c: Buffer) => chunks.push(c));
  return () => Buffer.concat(chunks).toString().trim().split("\n").slice(0, 5).join("\n");
}

const exitOf = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.on("error", (error) => resolve({ code: null, signal: null, error }));
    child.on("close", (code, signal) => resolve({ code, signal }));
  });

/**
 * A tar of the rootfs by GNU tar, compressed by @kiln/package's compressor programs
 * (xz, zstd: every core, the same bytes for any thread count) reading tar's output
 * directly, or by zlib (gz). No byte of the tree passes through this process for xz
 * and zstd: packing it here as well as compressing it on the same cores was a quarter
 * slower than `tar | zstd` for a Debian minbase.
 */
function tarImage(type: string, how?: Compression, levelVar = "", defaultLevel = 0): ImageType {
  return {
    type,
    async write(rootfs, out, d, signal) {
      const epoch = Number.parseInt(String(d.getVar("SOURCE_DATE_EPOCH") ?? "0"), 10) || 0;
      // fd opened synchronously: an async open could create `out` after a failure removed it
      const fd = openSync(out, "w");
      const children: ChildProcess[] = [];
      const abort = () => children.forEach((c) => c.kill());
      signal.addEventListener("abort", abort, { once: true });
      try {
        const direct = how === undefined || how === "gz" ? undefined : compressorCommand(how, { level: level(d, levelVar, defaultLevel) });
        const tar = spawn("tar", imageTarArgs(rootfs, epoch), { stdio: ["ignore", how === undefined ? fd : "pipe", "pipe"] });
        children.push(tar);
        const tarErr = collectStderr(tar);
        const waits = [exitOf(tar)];
        let gzipped: Promise<unknown> | undefined;
        let compressorErr = () => "";
        if (direct) {
          // the compressor reads tar's pipe itself
          const compressor = spawn(direct[0], direct[1], { stdio: [tar.stdout as Readable, fd, "pipe"] });
          children.push(compressor);
          compressorErr = collectStderr(compressor);
          waits.push(exitOf(compressor));
          // the pipe is the compressor's now: tar gets SIGPIPE should it stop reading
          (tar.stdout as Readable).destroy();
        } else if (how === "gz") {
          gzipped = pipeline(tar.stdout as Readable, createGzip({ level: level(d, levelVar, defaultLevel) }), createWriteStream(out, { fd, autoClose: false }));
        }
        const [tarExit, compressorExit] = await Promise.all(waits);
        await gzipped;
        if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error("interrupted");
        if (tarExit.error || tarExit.code !== 0) {
          const missing = (tarExit.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
          throw new KilnError("FATAL", `image ${type} of ${rootfs}: tar ${missing ? "is not installed" : `failed (${tarExit.signal ?? `exit ${tarExit.code}`}): ${tarErr()}`}`, {
            hint: missing ? "install GNU tar (images are made with it, as OpenEmbedded does)" : undefined,
          });
        }
        if (compressorExit && (compressorExit.error || compressorExit.code !== 0)) {
          throw new KilnError("FATAL", `image ${type} of ${rootfs}: ${direct?.[0]} failed (${compressorExit.error?.message ?? compressorExit.signal ?? `exit ${compressorExit.code}`}): ${compressorErr()}`);
        }
      } finally {
        signal.removeEventListener("abort", abort);
        closeSync(fd);
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
