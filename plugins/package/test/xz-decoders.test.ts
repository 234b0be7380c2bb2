import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { XzDecoders, xzUncompressedSize } from "../src/xz-decoders.js";

const xz = (data: Buffer, ...args: string[]) => execFileSync("xz", ["-c", "-q", ...args], { input: data, maxBuffer: 1 << 28 });

/** Inputs of varied size and compressibility; zero bytes too. */
const inputs = [Buffer.alloc(0), Buffer.from("hello\n"), randomBytes(300_000), Buffer.alloc(3_000_000, "abc"), Buffer.concat([randomBytes(70_000), Buffer.alloc(500_000, 7)])];

describe("xzUncompressedSize", () => {
  it("reads the size from the stream index, across concatenated streams, padding and multi-block files", () => {
    for (const data of inputs) expect(xzUncompressedSize(xz(data))).toBe(data.length);
    const two = Buffer.concat([xz(inputs[2]), Buffer.alloc(8), xz(inputs[3], "-T2", "--block-size=100000")]);
    expect(xzUncompressedSize(two)).toBe(inputs[2].length + inputs[3].length);
  });

  it("refuses what is not whole xz data", () => {
    expect(() => xzUncompressedSize(Buffer.from("not xz at all, not at all"))).toThrow(/not xz data/);
    const whole = xz(inputs[2]);
    expect(() => xzUncompressedSize(whole.subarray(0, whole.length - 1))).toThrow();
    expect(() => xzUncompressedSize(whole.subarray(40))).toThrow(/bad xz/);
  });
});

describe("XzDecoders", () => {
  it("decodes many buffers through a few programs, each result exactly its input", async () => {
    const decoders = new XzDecoders(2);
    const many = Array.from({ length: 30 }, (_, i) => inputs[i % inputs.length]);
    const pending = many.map((d) => decoders.decode(xz(d)));
    decoders.close(); // everything queued: the programs may finish (their last output comes at the end of input)
    const results = await Promise.all(pending);
    results.forEach((r, i) => expect(r.equals(many[i])).toBe(true));
  });

  it("a corrupt stream rejects it and what was queued behind it, naming xz's complaint", async () => {
    const decoders = new XzDecoders(1);
    const good = decoders.decode(xz(inputs[2]));
    const bad = Buffer.from(xz(inputs[3]));
    bad[bad.length >> 1] ^= 0x55; // damage the middle, where the compressed data is
    const broken = decoders.decode(bad);
    const after = decoders.decode(xz(inputs[1]));
    decoders.close();
    expect((await good).equals(inputs[2])).toBe(true);
    await expect(broken).rejects.toThrow(/xz -d/);
    await expect(after).rejects.toThrow(/xz -d/);
  });

  it("after a broken stream, later buffers go to a sound program; decode after close rejects", async () => {
    const decoders = new XzDecoders(1);
    // a damaged stream header: xz stops at once, without waiting for the end of its input
    const bad = Buffer.from(xz(inputs[2]));
    bad[8] ^= 0xff;
    await expect(decoders.decode(bad)).rejects.toThrow(/xz -d/);
    const good = decoders.decode(xz(inputs[2]));
    decoders.close();
    expect((await good).equals(inputs[2])).toBe(true);
    await expect(decoders.decode(xz(inputs[1]))).rejects.toThrow("decode after close");
    expect(() => xzUncompressedSize(Buffer.concat([Buffer.alloc(4), xz(inputs[1])]))).toThrow(/no stream header at the start/);
  });

  it("an index announcing less than the stream holds is caught, not cut silently", async () => {
    const data = Buffer.alloc(100_000, 1);
    const lying = Buffer.from(xz(data));
    // the index's uncompressed size lies; xz checks it against what it decoded
    const footer = lying.length - 12;
    const indexStart = footer - (lying.readUInt32LE(footer + 4) + 1) * 4;
    const sizeAt = indexStart + 3; // indicator, record count, unpadded size (2 bytes here), then the size
    expect(lying[indexStart + 1]).toBe(1);
    const decoders = new XzDecoders(1);
    lying[sizeAt] ^= 0x01;
    const result = decoders.decode(lying);
    decoders.close();
    await expect(result).rejects.toThrow();
  });

  it("a stream whose integrity check fails is rejected even though all its output was written; what came before it is delivered", async () => {
    const data = Buffer.alloc(200_000, 9);
    const badCheck = Buffer.from(xz(data));
    // the block's CRC64 is the 8 bytes before the index (which the footer locates)
    const footer = badCheck.length - 12;
    const indexStart = footer - (badCheck.readUInt32LE(footer + 4) + 1) * 4;
    badCheck[indexStart - 1] ^= 0xff;
    const decoders = new XzDecoders(1);
    const before = decoders.decode(xz(inputs[2]));
    const broken = decoders.decode(badCheck);
    decoders.close();
    expect((await before).equals(inputs[2])).toBe(true);
    await expect(broken).rejects.toThrow(/xz -d/);
  });

  it("stages output in files that are gone from the temp directory at once, and leaves nothing there", async () => {
    const temp = mkdtempSync(join(tmpdir(), "kiln-xz-stage-"));
    try {
      const decoders = new XzDecoders(2, temp);
      const pending = inputs.map((d) => decoders.decode(xz(d)));
      expect(readdirSync(temp)).toEqual([]);
      decoders.close();
      (await Promise.all(pending)).forEach((r, i) => expect(r.equals(inputs[i])).toBe(true));
      expect(readdirSync(temp)).toEqual([]);
      // a temp directory that cannot be written rejects the buffer, naming the cause
      await expect(new XzDecoders(1, join(temp, "missing")).decode(xz(inputs[1]))).rejects.toThrow(/ENOENT/);
    } finally {
      rmSync(temp, { recursive: true, force: true });
    }
  });

  it("with `ahead`, gives results in the order asked for, no more than that many out until released, reusing released memory", async () => {
    const decoders = new XzDecoders(2, undefined, { ahead: 2 });
    const wanted = [inputs[2], inputs[4], inputs[1], inputs[3], inputs[2]];
    const settled: number[] = [];
    const pending = wanted.map((d, i) => decoders.decode(xz(d)).then((r) => (settled.push(i), r)));
    decoders.close();
    const first = await pending[0];
    const second = await pending[1];
    // every program has exited by now; the third waits for a release all the same
    await new Promise((r) => setTimeout(r, 300));
    expect(settled).toEqual([0, 1]);
    expect(first.equals(wanted[0])).toBe(true);
    expect(second.equals(wanted[1])).toBe(true);
    decoders.release(first);
    const third = await pending[2];
    expect(third.equals(wanted[2])).toBe(true);
    // the released memory took it (it fits: "hello\n" in 300,000 bytes)
    expect(third.buffer).toBe(first.buffer);
    decoders.release(Buffer.from("not one of its results")); // ignored
    decoders.release(second);
    decoders.release(third);
    const rest = await Promise.all(pending.slice(3));
    expect(rest[0].equals(wanted[3])).toBe(true);
    expect(rest[1].equals(wanted[4])).toBe(true);
    expect(settled).toEqual([0, 1, 2, 3, 4]);
  });
});
