/**
 * Many xz buffers decompressed by a few long-lived `xz` programs: a root filesystem
 * unpacks ~90 package payloads, and starting a program for each cost more main-thread
 * time (spawn is synchronous) than the unpacking itself. `xz -d` decodes concatenated
 * streams as one; each process is fed its buffers back to back through a pipe and
 * writes into a nameless file, which is cut again by each stream's uncompressed size,
 * read from the stream's own index (which xz checks against what it decodes: a lying
 * index fails the process, and every buffer not yet delivered is rejected). A result
 * is handed out once the program has written past it, so its integrity check passed.
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { constants } from "node:buffer";
import { closeSync, fstatSync, openSync, readSync, unlinkSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";

const FOOTER_MAGIC = [0x59, 0x5a];
const HEADER_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];

function varint(buf: Buffer, at: number, end: number): [number, number] {
  let n = 0;
  for (let shift = 0, i = at; i < end && shift < 63; i++, shift += 7) {
    n += (buf[i] & 0x7f) * 2 ** shift;
    if (!(buf[i] & 0x80)) return [n, i + 1];
  }
  throw new Error("bad xz index (a number runs on)");
}

/**
 * The uncompressed size of the .xz data `buf` (one or more concatenated streams, with
 * stream padding), from the streams' indexes, walking back from the end.
 */
export function xzUncompressedSize(buf: Buffer): number {
  let end = buf.length;
  let total = 0;
  while (end > 0) {
    while (end >= 4 && buf.readUInt32LE(end - 4) === 0) end -= 4;
    if (end === 0) break;
    if (end < 24 || buf[end - 2] !== FOOTER_MAGIC[0] || buf[end - 1] !== FOOTER_MAGIC[1]) throw new Error("not xz data (no stream footer)");
    const footer = end - 12;
    const indexStart = footer - (buf.readUInt32LE(footer + 4) + 1) * 4;
    if (indexStart < 12 || buf[indexStart] !== 0) throw new Error("bad xz stream footer");
    let [records, at] = varint(buf, indexStart + 1, footer);
    let blocks = 0;
    for (; records > 0; records--) {
      let unpadded: number;
      let size: number;
      [unpadded, at] = varint(buf, at, footer);
      [size, at] = varint(buf, at, footer);
      blocks += Math.ceil(unpadded / 4) * 4;
      total += size;
    }
    end = indexStart - blocks - 12;
    if (end < 0 || HEADER_MAGIC.some((b, i) => buf[end + i] !== b)) throw new Error("bad xz stream (index and header disagree)");
  }
  // padding may follow a stream, never lead the data (xz would refuse it)
  if (HEADER_MAGIC.some((b, i) => buf[i] !== b)) throw new Error("not xz data (no stream header at the start)");
  return total;
}

interface Pending {
  decoder: Decoder;
  /** Where its output starts in the program's output file, and its size. */
  start: number;
  size: number;
  resolve(b: Buffer): void;
  reject(e: Error): void;
}

interface Decoder {
  child: ChildProcessByStdio<Writable, null, Readable>;
  /** The program's output file (unlinked: it goes when this and the program's copy close). */
  fd: number;
  /** Output promised so far: where the next buffer's output starts. */
  end: number;
  /** Its results not read out yet, in order. */
  queue: Pending[];
  failed?: Error;
  /** It exited cleanly: everything it wrote is final. */
  done: boolean;
  closed: boolean;
}

/** Bytes a decoder has still to write. */
const owed = (d: Decoder) => d.queue.reduce((n, p) => n + p.size, 0);

/** How often (ms) the output files are looked at while results are awaited. */
const POLL_MS = 1;

let fileCount = 0;

export interface XzDecodersOptions {
  /**
   * Results read out and not yet given back with `release`, at most (default: no
   * limit, for callers that never release). A caller that releases each result once it
   * is done with it gets the same few buffers again instead of a new one per result.
   */
  ahead?: number;
}

export class XzDecoders {
  private readonly decoders: Decoder[] = [];
  /** Results not read out yet, in the order `decode` was called: they are read out in this order. */
  private readonly order: Pending[] = [];
  private closed = false;
  private polling?: NodeJS.Timeout;
  private readonly ahead: number;
  private out = 0;
  /** Buffers given back by `release`, to read later results into. */
  private readonly free: ArrayBuffer[] = [];
  private readonly mine = new WeakSet<ArrayBuffer>();

  /**
   * `processes` programs at most; their output goes to files in `tempDir` (removed at
   * once, kept open), so a program never waits for this thread to read a pipe: with
   * stdout a pipe, the xz programs of a root filesystem spent half their time blocked
   * while this thread unpacked the previous payload.
   */
  constructor(
    private readonly processes = Math.max(1, availableParallelism()),
    private readonly tempDir = tmpdir(),
    options: XzDecodersOptions = {},
  ) {
    this.ahead = options.ahead ?? Number.POSITIVE_INFINITY;
  }

  /**
   * `data` (complete .xz streams) decompressed; buffers are shared out to the process
   * with the least output owed, results come back in the order asked for. xz holds
   * back the end of a stream's output until it decodes more input or its input ends: a
   * result can depend on a later `decode` or on `close()`, so queue everything, then
   * close, then wait.
   */
  decode(data: Buffer): Promise<Buffer> {
    if (this.closed) return Promise.reject(new Error("XzDecoders: decode after close"));
    let size: number;
    try {
      size = xzUncompressedSize(data);
      if (size > constants.MAX_LENGTH) throw new Error(`an xz index announcing ${size} bytes, more than a buffer can hold`);
    } catch (err) {
      return Promise.reject(err);
    }
    // a failed program takes nothing more: its error belongs to the stream that broke it
    const healthy = this.decoders.filter((x) => !x.failed);
    let d: Decoder;
    try {
      d = this.decoders.length < this.processes || !healthy.length ? this.start() : healthy.reduce((a, b) => (owed(b) < owed(a) ? b : a));
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<Buffer>((resolve, reject) => {
      const p: Pending = { decoder: d, start: d.end, size, resolve, reject };
      d.queue.push(p);
      this.order.push(p);
      d.end += size;
      d.child.stdin.write(data);
      this.poll();
    });
  }

  /** Let the programs finish (or stop them, `kill`): no decode may follow. */
  close(kill = false): void {
    this.closed = true;
    for (const d of this.decoders) {
      if (kill) d.child.kill();
      else d.child.stdin.end();
    }
  }

  /** A result the caller is done with (no view of it is used again): its memory takes a later result. */
  release(result: Buffer): void {
    const buffer = result.buffer as ArrayBuffer;
    if (!this.mine.has(buffer)) return;
    this.mine.delete(buffer);
    this.out--;
    this.free.push(buffer);
    this.readOut();
  }

  private start(): Decoder {
    const file = join(this.tempDir, `.kiln-xz-${process.pid}-${fileCount++}`);
    const fd = openSync(file, "w+", 0o600);
    let child: ChildProcessByStdio<Writable, null, Readable>;
    try {
      child = spawn("xz", ["-q", "-d", "-c"], { stdio: ["pipe", fd, "pipe"] }) as ChildProcessByStdio<Writable, null, Readable>;
    } catch (err) {
      closeSync(fd);
      throw err;
    } finally {
      // nameless from now on: nothing is left behind, whatever happens
      unlinkSync(file);
    }
    const d: Decoder = { child, fd, end: 0, queue: [], done: false, closed: false };
    this.decoders.push(d);
    const stderr: Buffer[] = [];
    child.stdin.on("error", () => undefined); // the exit status says why
    child.stderr.on("data", (c: Buffer) => stderr.push(c));
    child.on("error", (err) => this.fail(d, err));
    child.on("close", (code, signal) => {
      if (code !== 0) {
        // what xz went past was checked (it reads a stream's check, index and footer
        // before the next stream): that much is good, whatever the limit; the rest fails
        this.readOut(d);
        this.fail(d, new Error(`xz -d: ${signal ?? `exit ${code}`}: ${Buffer.concat(stderr).toString().trim() || "failed"}`));
        return;
      }
      const written = fstatSync(d.fd).size;
      if (written < d.end) this.fail(d, new Error("xz wrote less than the streams' indexes announce"));
      else if (written > d.end) this.fail(d, new Error("xz wrote more than the streams' indexes announce"));
      else {
        d.done = true;
        this.readOut();
      }
    });
    return d;
  }

  /** The program failed: its results not read out fail with it, and it takes nothing more. */
  private fail(d: Decoder, err: Error): void {
    d.failed ??= err;
    for (const p of d.queue.splice(0)) {
      this.order.splice(this.order.indexOf(p), 1);
      p.reject(d.failed);
    }
    d.child.kill();
    this.closeFile(d);
    this.readOut();
  }

  private closeFile(d: Decoder): void {
    if (d.closed) return;
    d.closed = true;
    closeSync(d.fd);
  }

  /**
   * Results read out of the files in the order asked for, each once its program has
   * written past it (so it checked it) or has exited cleanly, while fewer than `ahead`
   * are out. `only`: just that program's finished results, whatever the limit (it failed).
   */
  private readOut(only?: Decoder): void {
    const written = new Map<Decoder, number>();
    const sizeOf = (d: Decoder) => {
      let n = written.get(d);
      if (n === undefined) written.set(d, (n = fstatSync(d.fd).size));
      return n;
    };
    for (let i = 0; i < this.order.length; ) {
      const p = this.order[i];
      const d = p.decoder;
      if (only && d !== only) {
        i++;
        continue;
      }
      const end = p.start + p.size;
      const finished = d.done ? end <= sizeOf(d) : end < sizeOf(d);
      if (!finished || (!only && this.out >= this.ahead)) {
        if (only) break;
        return;
      }
      this.order.splice(i, 1);
      d.queue.shift();
      p.resolve(this.read(d, p));
      if (d.done && !d.queue.length) this.closeFile(d);
    }
  }

  /** A result's bytes, into a released buffer that fits or a new one. */
  private read(d: Decoder, p: Pending): Buffer {
    let at = -1;
    for (let i = 0; i < this.free.length; i++) {
      if (this.free[i].byteLength >= p.size && (at < 0 || this.free[i].byteLength < this.free[at].byteLength)) at = i;
    }
    let buffer: ArrayBuffer;
    if (at >= 0) buffer = this.free.splice(at, 1)[0];
    else {
      // none fits: a new one, and the smallest kept goes (the pool stays as big as what is out)
      if (this.free.length) this.free.splice(this.free.indexOf(this.free.reduce((a, b) => (b.byteLength < a.byteLength ? b : a))), 1);
      buffer = Buffer.allocUnsafeSlow(p.size).buffer as ArrayBuffer;
    }
    const out = Buffer.from(buffer, 0, p.size);
    for (let n = 0; n < p.size; ) {
      const got = readSync(d.fd, out, n, p.size - n, p.start + n);
      if (got === 0) break;
      n += got;
    }
    if (this.ahead !== Number.POSITIVE_INFINITY) {
      this.mine.add(buffer);
      this.out++;
    }
    return out;
  }

  /** Look at the output files now and then while results are awaited from running programs. */
  private poll(): void {
    if (this.polling) return;
    const tick = () => {
      this.polling = undefined;
      this.readOut();
      if (this.order.some((p) => !p.decoder.done && !p.decoder.failed)) this.polling = setTimeout(tick, POLL_MS);
    };
    this.polling = setTimeout(tick, POLL_MS);
  }
}
