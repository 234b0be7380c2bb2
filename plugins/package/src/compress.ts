/**
 * Compressors for package members (deb/ipk `*.tar.<ext>`, rpm payloads), whole
 * Buffers or streamed into a file, with deterministic output that uses every core:
 *
 * - gz: zlib level 9 (dpkg-deb's default), no timestamp (Node writes mtime 0).
 * - xz: the `xz` program, preset 6 (dpkg-deb's default), in multi-threaded mode with
 *   block sizes fixed by the input's size and the level (xzBlockSize). Multi-threaded
 *   output depends on the block size, never on the thread count; single-threaded output
 *   differs, so even a 1-CPU machine runs at least 2 threads (`-T1` would switch modes)
 *   and `--no-adjust` stops xz falling back to it under memory pressure (it may still
 *   use fewer threads). Not lzma-native: it bundles liblzma 5.2.3, which took ~60% more
 *   CPU than xz 5.4 for the same output here.
 * - zst: the `zstd` program, level 19, `-T0`: zstd's multi-threaded output is the same
 *   for any number of workers >= 1 (`-T1` == `-T0`, checked in the tests); only
 *   `--single-thread` differs, and it is never used. Given the input's size, the jobs
 *   (what one worker compresses) are made equal and even in number: zstd's own size
 *   (32 MiB at level 19) leaves e.g. 98 MiB as 32+32+32+2, and the last round runs on
 *   one core; 4 x 24.5 MiB took 10 % less time here for 0.02 % more output (jobs share
 *   their window). From level 16 the jobs are smaller and start from less of the
 *   window (zstdJobSize, zstdOverlapLog): 20 % faster at level 19.
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
/** xz's dictionary size (bytes) for each preset level 0-9. */
const XZ_DICT = [256 << 10, 1 << 20, 2 << 20, 4 << 20, 4 << 20, 8 << 20, 8 << 20, 16 << 20, 32 << 20, 64 << 20];

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

/** zstd's window (log2 bytes) at `level` for a large input. */
const zstdWindowLog = (level: number) => (level <= 1 ? 19 : level === 2 ? 20 : level <= 8 ? 21 : level <= 16 ? 22 : level <= 19 ? 23 : level + 5);

/**
 * From this level on, jobs are small and overlap little (zstdOverlapLog). At level 19
 * each job first indexes the whole window before it (8 MiB: libzstd's overlap for its
 * slowest strategies), which on bench/package's 100 MB was a quarter of the work.
 */
const ZSTD_SMALL_JOBS_LEVEL = 16;

/**
 * `size` bytes cut into `count` equal pieces: the piece size, rounded up to 4 KiB, with
 * 64 KiB to spare over all of them, so an estimate a little short does not leave a
 * tiny piece at the end and the rounding never drops a piece (38 pieces of 1.5 MiB
 * each rounded up to 64 KiB with 64 KiB more held the input in 36).
 */
function equalPieces(size: number, count: number): number {
  return Math.ceil((size + 65536) / count / 4096) * 4096;
}

/**
 * The zstd job size for `size` bytes at `level`: libzstd's own (4 x the window of the
 * level's parameters for an unknown size, at least 1 MiB) when that gives one job,
 * else `size` cut into an even number of equal jobs. From level 16, the jobs are cut
 * nearest to 1.5 x the window instead (12 MiB at level 19; 100 MB: 8 jobs), so the
 * cores finish together: with zstdOverlapLog, 8 jobs took 14.3-14.9 s where libzstd's
 * own 32 MiB jobs took 17.4-19.2 s, for 0.18 % more output.
 */
export function zstdJobSize(level: number, size: number): number | undefined {
  const windowLog = zstdWindowLog(level);
  const target = level >= ZSTD_SMALL_JOBS_LEVEL ? 1.5 * 2 ** windowLog : 2 ** Math.max(20, windowLog + 2);
  if (level >= ZSTD_SMALL_JOBS_LEVEL ? size < 1.5 * target : size <= target) return undefined;
  const jobs = level >= ZSTD_SMALL_JOBS_LEVEL ? Math.max(2, 2 * Math.round(size / (2 * target))) : Math.ceil(size / target);
  return equalPieces(size, jobs + (jobs % 2));
}

/**
 * zstd's overlap (`ovlog`: the window >> (9 - ovlog) of history each job starts from)
 * from level 16: 6, an eighth of the window, as libzstd's faster strategies use; its
 * own is half the window (8) at levels 16-18 and the whole window (9) from 19. Below
 * level 16, libzstd's own.
 */
export function zstdOverlapLog(level: number): number | undefined {
  return level >= ZSTD_SMALL_JOBS_LEVEL ? 6 : undefined;
}

/**
 * The xz block size for `size` bytes at `level`. xz's own (what dpkg-deb gets) is 3 x
 * the dictionary (at least 1 MiB), 24 MiB at level 6, cut from the start: 100 MB is 4
 * x 24 MiB + 4 MB. Blocks compress at very different speeds (shared libraries took
 * twice the time of documentation per byte), and each core takes the next block when
 * it is done, so few big blocks leave one core working while the other waits. Past
 * 1.5 x half that size the input is cut instead into the even number of equal blocks
 * nearest to half of it (1.5 x the dictionary, 12 MiB at level 6; 100 MB: 8 x 12.3
 * MiB). bench/package, 100 MB on 2 cores: 8 blocks 7 % faster than 4, for 0.4 % more
 * output (blocks share no dictionary); 12 blocks 3 % more output. A smaller input is
 * one block of its own size: xz reserves memory by the block size whatever the input
 * (a control.tar at -9 in xz's 192 MiB blocks needs 1.25 GiB per thread), and a block
 * at least as big as the input gives the same bytes. Depends on nothing else (not the
 * cores), so the bytes are the same everywhere.
 */
export function xzBlockSize(size: number | undefined, level: number = DEFAULT_LEVEL.xz): number {
  const half = Math.max(1 << 19, 1.5 * XZ_DICT[Math.min(9, Math.max(0, Math.trunc(level)))]!);
  if (size === undefined) return 2 * half;
  if (size < 1.5 * half) return Math.min(2 * half, equalPieces(size, 1));
  return equalPieces(size, Math.max(2, 2 * Math.round(size / (2 * half))));
}

/** The compressor program and its arguments for `how` (xz, zst): stdin to stdout. */
export function compressorCommand(how: "xz" | "zst", options: CompressOptions = {}): [string, string[]] {
  const level = options.level ?? DEFAULT_LEVEL[how];
  if (how === "zst") {
    const job = options.size === undefined ? undefined : zstdJobSize(level, options.size);
    const overlap = zstdOverlapLog(level);
    return [
      "zstd",
      ["-q", "-c", `-${level}`, ...(level > 19 ? ["--ultra"] : []), `-T${options.threads ?? 0}`, ...(job ? [`-B${job}`] : []), ...(overlap === undefined ? [] : [`--zstd=ovlog=${overlap}`])],
    ];
  }
  const threads = Math.max(2, options.threads ?? availableParallelism());
  return ["xz", ["-q", "-c", `-${level}`, `-T${threads}`, `--block-size=${xzBlockSize(options.size, level)}`, "--memlimit-compress=50%", "--no-adjust"]];
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
