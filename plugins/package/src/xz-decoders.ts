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
  queue: Pending[];
  failed?: Error;
  exited: boolean;
}

/** Bytes a decoder has still to write. */
const owed = (d: Decoder) => d.queue.reduce((n, p) => n + p.size, 0);

/** How often (ms) the output files are looked at while results are awaited. */
const POLL_MS = 1;

let fileCount = 0;

export class XzDecoders {
  private readonly decoders: Decoder[] = [];
  private closed = false;
  private polling?: NodeJS.Timeout;

  /**
   * `processes` programs at most; their output goes to files in `tempDir` (removed at
   * once, kept open), so a program never waits for this thread to read a pipe: with
   * stdout a pipe, the xz programs of a root filesystem spent half their time blocked
   * while this thread unpacked the previous payload.
   */
  constructor(
    private readonly processes = Math.max(1, availableParallelism()),
    private readonly tempDir = tmpdir(),
  ) {}

  /**
   * `data` (complete .xz streams) decompressed; buffers are shared out to the process
   * with the least output owed. xz holds back the end of a stream's output until it
   * decodes more input or its input ends: a result can depend on a later `decode` or on
   * `close()`, so queue everything, then close, then wait.
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
      d.queue.push({ start: d.end, size, resolve, reject });
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
    const d: Decoder = { child, fd, end: 0, queue: [], exited: false };
    this.decoders.push(d);
    const stderr: Buffer[] = [];
    const fail = (err: Error) => {
      d.failed ??= err;
      for (const p of d.queue.splice(0)) p.reject(d.failed);
      child.kill();
    };
    child.stdin.on("error", () => undefined); // the exit status says why
    child.stderr.on("data", (c: Buffer) => stderr.push(c));
    child.on("error", (err) => {
      fail(err);
      this.finish(d);
    });
    child.on("close", (code, signal) => {
      if (code !== 0) {
        // what xz went past was checked (it reads a stream's check, index and footer
        // before the next stream): that much is good, the rest fails with the program
        this.deliver(d);
        fail(new Error(`xz -d: ${signal ?? `exit ${code}`}: ${Buffer.concat(stderr).toString().trim() || "failed"}`));
      } else {
        this.deliver(d, true);
        const written = fstatSync(d.fd).size;
        if (d.queue.length) fail(new Error("xz wrote less than the streams' indexes announce"));
        else if (written > d.end) fail(new Error("xz wrote more than the streams' indexes announce"));
      }
      this.finish(d);
    });
    return d;
  }

  /** The program is gone: its output file closes (once: an unstarted program reports both error and close). */
  private finish(d: Decoder): void {
    if (d.exited) return;
    d.exited = true;
    closeSync(d.fd);
  }

  /**
   * Results whose output is in the file, read out in order: those the program has
   * written past (so it checked them), or, once it exited cleanly (`ended`), all.
   */
  private deliver(d: Decoder, ended = false): void {
    if (d.failed || d.exited || !d.queue.length) return;
    const written = fstatSync(d.fd).size;
    while (d.queue.length && (ended ? d.queue[0].start + d.queue[0].size <= written : d.queue[0].start + d.queue[0].size < written)) {
      const p = d.queue.shift() as Pending;
      const out = Buffer.allocUnsafe(p.size);
      for (let at = 0; at < p.size; ) {
        const n = readSync(d.fd, out, at, p.size - at, p.start + at);
        if (n === 0) break;
        at += n;
      }
      p.resolve(out);
    }
  }

  /** Look at the output files now and then while results are awaited. */
  private poll(): void {
    if (this.polling) return;
    const tick = () => {
      this.polling = undefined;
      for (const d of this.decoders) this.deliver(d);
      if (this.decoders.some((d) => d.queue.length && !d.failed && !d.exited)) this.polling = setTimeout(tick, POLL_MS);
    };
    this.polling = setTimeout(tick, POLL_MS);
  }
}
