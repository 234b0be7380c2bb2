/**
 * Compressors for package members (deb/ipk `*.tar.<ext>`, rpm payloads), whole
 * Buffers or streamed into a file, with deterministic output that uses every core:
 *
 * - gz: zlib level 9 (dpkg-deb's default), no timestamp (Node writes mtime 0).
 * - xz: the `xz` program, preset 6 (dpkg-deb's default), in multi-threaded mode with a
 *   fixed block size. Multi-threaded output depends on the block size, never on the
 *   thread count; single-threaded output differs, so even a 1-CPU machine runs at
 *   least 2 threads (`-T1` would switch modes) and `--no-adjust` stops xz falling back
 *   to it under memory pressure (it may still use fewer threads). 24 MiB is what
 *   dpkg-deb gets (liblzma's default: 3 x the 8 MiB dictionary), written out so a new
 *   default cannot change our bytes. Not lzma-native: it bundles liblzma 5.2.3, which
 *   took ~60% more CPU than xz 5.4 for the same output here.
 * - zst: the `zstd` program, level 19, `-T0`: zstd's multi-threaded output is the same
 *   for any number of workers >= 1 (`-T1` == `-T0`, checked in the tests); only
 *   `--single-thread` differs, and it is never used. Given the input's size, the jobs
 *   (what one worker compresses) are made equal and even in number: zstd's own size
 *   (32 MiB at level 19) leaves e.g. 98 MiB as 32+32+32+2, and the last round runs on
 *   one core; 4 x 24.5 MiB took 10 % less time here for 0.02 % more output (jobs share
 *   their window, so smaller ones cost little). xz
 *   blocks are cut likewise (xzBlockSize): fewer, equal blocks; on 2 cores a 100 MB
 *   tree went from 1.039 to 1.017 x dpkg-deb's time (bench/package, one run each).
 */
import { spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import { closeSync, createWriteStream, openSync } from "node:fs";
import { pipeline } from "node:stream/promises";
import { createGzip, gunzipSync, gzipSync } from "node:zlib";
import { KilnError } from "@kiln/core";

export type Compression = "xz" | "gz" | "zst";

/** The level each compressor gets unless told otherwise. */
export const DEFAULT_LEVEL: Record<Compression, number> = { gz: 9, xz: 6, zst: 19 };
/** xz block size (bytes): fixes the multi-threaded output; see the header. */
export const XZ_BLOCK_SIZE = 24 * 1024 * 1024;

export interface CompressOptions {
  /** Compression level (default DEFAULT_LEVEL). */
  level?: number;
  /** Worker threads for xz/zstd (default: every core). Never changes the output. */
  threads?: number;
  /**
   * The input's size in bytes, or a deterministic estimate of it: zstd splits its jobs
   * by it (see the header), so it changes the output; without it, zstd's own split.
   */
  size?: number;
}

/**
 * The zstd job size for `size` bytes at `level`: libzstd's own (4 x the window of the
 * level's parameters for an unknown size, at least 1 MiB) when that gives one job,
 * else `size` cut into an even number of equal jobs, rounded up to 64 KiB with 64 KiB
 * to spare so an estimate a little short does not leave a tiny job at the end.
 */
export function zstdJobSize(level: number, size: number): number | undefined {
  const windowLog = level <= 1 ? 19 : level === 2 ? 20 : level <= 8 ? 21 : level <= 16 ? 22 : level <= 19 ? 23 : level + 5;
  const jobs = Math.ceil(size / 2 ** Math.max(20, windowLog + 2));
  if (jobs <= 1) return undefined;
  return (Math.ceil(size / (jobs + (jobs % 2)) / 65536) + 1) * 65536;
}

/**
 * The xz block size for `size` bytes: XZ_BLOCK_SIZE cut from the start leaves a short
 * last block that one core compresses while the others wait (100 MB: 4 x 24 MiB +
 * 4 MB). Past 1.5 blocks the input is cut instead into the even number of equal blocks
 * nearest to XZ_BLOCK_SIZE each (100 MB: 4 x 25.2 MB), rounded up to 64 KiB with 64 KiB
 * to spare. Blocks share no dictionary, so fewer, larger ones also compress better.
 */
export function xzBlockSize(size: number | undefined): number {
  if (size === undefined || size <= 1.5 * XZ_BLOCK_SIZE) return XZ_BLOCK_SIZE;
  const blocks = Math.max(2, 2 * Math.round(size / (2 * XZ_BLOCK_SIZE)));
  return (Math.ceil(size / blocks / 65536) + 1) * 65536;
}

/** The compressor program and its arguments for `how` (xz, zst): stdin to stdout. */
export function compressorCommand(how: "xz" | "zst", options: CompressOptions = {}): [string, string[]] {
  const level = options.level ?? DEFAULT_LEVEL[how];
  if (how === "zst") {
    const job = options.size === undefined ? undefined : zstdJobSize(level, options.size);
    return ["zstd", ["-q", "-c", `-${level}`, ...(level > 19 ? ["--ultra"] : []), `-T${options.threads ?? 0}`, ...(job ? [`-B${job}`] : [])]];
  }
  const threads = Math.max(2, options.threads ?? availableParallelism());
  return ["xz", ["-q", "-c", `-${level}`, `-T${threads}`, `--block-size=${xzBlockSize(options.size)}`, "--memlimit-compress=50%", "--no-adjust"]];
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * `input` through `program` (stdin to stdout), the output collected. Plain spawn, not
 * execa: for a root filesystem's ~90 payloads its per-call overhead showed. Both
 * directions use it.
 */
function filterThrough(program: string, args: string[], input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    // the program failing early closes its stdin: its exit status says why
    child.stdin.on("error", () => undefined);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code === 0) resolve(out.length === 1 ? out[0] : Buffer.concat(out));
      else reject(new Error(`${program} ${args.join(" ")}: ${signal ?? `exit ${code}`}: ${Buffer.concat(err).toString().trim()}`));
    });
    child.stdin.end(input);
  });
}

const compressorError = (program: string, cause: unknown) =>
  new KilnError("FATAL", `could not run '${program}' to compress a package member`, {
    hint: (cause as { code?: string }).code === "ENOENT" ? `install ${program === "xz" ? "xz-utils" : program}` : undefined,
    cause,
  });

export async function compress(data: Buffer, how: Compression, options: CompressOptions = {}): Promise<Buffer> {
  if (how === "gz") return gzipSync(data, { level: options.level ?? DEFAULT_LEVEL.gz });
  const [program, args] = compressorCommand(how, { size: data.length, ...options });
  try {
    return await filterThrough(program, args, data);
  } catch (err) {
    throw compressorError(program, err);
  }
}

/**
 * Compress `input` into the file `out` without holding it in memory: zlib on the
 * thread pool for gz, otherwise the compressor program writing `out` itself. A failing
 * input (an unreadable file) kills the compressor and is the error thrown; `out` may
 * then hold partial output, which the caller removes.
 */
export async function compressToFile(input: NodeJS.ReadableStream, how: Compression, out: string, options: CompressOptions = {}): Promise<void> {
  // opened here, synchronously: a write stream opening `out` itself could create it
  // after a failing input made the caller remove it
  if (how === "gz") return pipeline(input, createGzip({ level: options.level ?? DEFAULT_LEVEL.gz }), createWriteStream(out, { fd: openSync(out, "w") }));
  const [program, args] = compressorCommand(how, options);
  // Spawned with the file as its stdout, so the compressor writes it directly (execa
  // would pipe and decode every output byte through this process).
  const fd = openSync(out, "w");
  let inputError: { error: unknown } | undefined;
  let exit: { code: number | null; signal: NodeJS.Signals | null; error?: Error; stderr: string };
  try {
    const child = spawn(program, args, { stdio: ["pipe", fd, "pipe"] });
    const stderr: Buffer[] = [];
    child.stderr!.on("data", (c: Buffer) => stderr.push(c));
    const exited = new Promise<typeof exit>((resolve) => {
      child.on("error", (error) => resolve({ code: null, signal: null, error, stderr: "" }));
      child.on("close", (code, signal) => resolve({ code, signal, stderr: Buffer.concat(stderr).toString() }));
    });
    const feed = pipeline(input, child.stdin!).catch((error: unknown) => {
      inputError = { error };
      child.kill();
    });
    [exit] = await Promise.all([exited, feed]);
  } finally {
    closeSync(fd);
  }
  // The compressor failing on its own (not found, bad option) explains a broken pipe
  // on our side; being killed is the consequence of our input failing.
  if (exit.error || (exit.code !== 0 && !(inputError && exit.signal))) {
    throw compressorError(program, exit.error ?? new Error(`${program} ${args.join(" ")}: ${exit.signal ?? `exit ${exit.code}`}\n${exit.stderr}`));
  }
  if (inputError) throw inputError.error;
}

export { collect };

/**
 * Compressed xz input from this size on goes to the xz program (see decompress): below
 * it, starting a program (~3 ms) costs more than lzma-native's slower decoding.
 */
const XZ_PROGRAM_MIN = 128 << 10;

/** The inverse of `compress`, by member extension (`gz`, `xz`, `zst`, or none). */
export async function decompress(data: Buffer, how: string): Promise<Buffer> {
  if (how === "" || how === "tar") return data;
  if (how === "gz") return gunzipSync(data);
  if (how === "zst") return filterThrough("zstd", ["-q", "-d", "-c"], data);
  if (how === "xz") {
    // through the xz program: its liblzma decodes in ~60 % of lzma-native's CPU, off this
    // process, and multi-block files on every core (a 9 MB Packages.xz: 0.35 s, lzma-native
    // 1.07 s); small inputs in process
    if (data.length >= XZ_PROGRAM_MIN) {
      try {
        return await filterThrough("xz", ["-q", "-d", "-c", "-T0"], data);
      } catch (err) {
        if ((err as { code?: string }).code !== "ENOENT") throw err;
      }
    }
    const lzma = (await import("lzma-native")).default;
    const c = lzma.createDecompressor();
    const out = collect(c);
    c.end(data);
    return out;
  }
  throw new Error(`unknown compression '${how}'`);
}
