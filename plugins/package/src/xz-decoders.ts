/**
 * Many xz buffers decompressed by a few long-lived `xz` programs: a root filesystem
 * unpacks ~90 package payloads, and starting a program for each cost more main-thread
 * time (spawn is synchronous) than the unpacking itself. `xz -d` decodes concatenated
 * streams as one; each process is fed its buffers back to back and its output is cut
 * again by each stream's uncompressed size, read from the stream's own index (which xz
 * checks against what it decodes: a lying index fails the process, and every buffer not
 * yet delivered is rejected).
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { constants } from "node:buffer";
import { availableParallelism } from "node:os";
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
  out: Buffer;
  filled: number;
  resolve(b: Buffer): void;
  reject(e: Error): void;
}

interface Decoder {
  child: ChildProcessByStdio<Writable, Readable, Readable>;
  queue: Pending[];
  failed?: Error;
}

/** Bytes a decoder has still to write. */
const owed = (d: Decoder) => d.queue.reduce((n, p) => n + p.out.length - p.filled, 0);

export class XzDecoders {
  private readonly decoders: Decoder[] = [];
  private closed = false;

  constructor(private readonly processes = Math.max(1, availableParallelism())) {}

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
    const d = this.decoders.length < this.processes ? this.start() : healthy.length ? healthy.reduce((a, b) => (owed(b) < owed(a) ? b : a)) : this.start();
    return new Promise<Buffer>((resolve, reject) => {
      const pending: Pending = { out: Buffer.allocUnsafe(size), filled: 0, resolve, reject };
      d.queue.push(pending);
      if (size === 0) this.deliver(d);
      d.child.stdin.write(data);
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
    const child = spawn("xz", ["-q", "-d", "-c"], { stdio: ["pipe", "pipe", "pipe"] });
    const d: Decoder = { child, queue: [] };
    this.decoders.push(d);
    const stderr: Buffer[] = [];
    const fail = (err: Error) => {
      d.failed ??= err;
      for (const p of d.queue.splice(0)) p.reject(d.failed);
      child.kill();
    };
    child.stdin.on("error", () => undefined); // the exit status says why
    child.stderr.on("data", (c: Buffer) => stderr.push(c));
    child.stdout.on("data", (chunk: Buffer) => {
      let at = 0;
      while (at < chunk.length) {
        const p = d.queue[0];
        if (!p) return fail(new Error("xz wrote more than the streams' indexes announce"));
        const n = Math.min(chunk.length - at, p.out.length - p.filled);
        chunk.copy(p.out, p.filled, at, at + n);
        p.filled += n;
        at += n;
        this.deliver(d);
      }
    });
    child.on("error", fail);
    child.on("close", (code, signal) => {
      if (code !== 0) fail(new Error(`xz -d: ${signal ?? `exit ${code}`}: ${Buffer.concat(stderr).toString().trim() || "failed"}`));
      else if (d.queue.length) fail(new Error("xz wrote less than the streams' indexes announce"));
    });
    return d;
  }

  private deliver(d: Decoder): void {
    while (d.queue.length && d.queue[0].filled === d.queue[0].out.length) {
      const p = d.queue.shift() as Pending;
      p.resolve(p.out);
    }
  }
}
