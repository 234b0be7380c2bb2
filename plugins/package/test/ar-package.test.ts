/**
 * The ar package writer and its compressors: byte-identical output across runs and
 * thread counts, the formats core writes (writeAr, packTar) and dpkg-deb reads,
 * streaming of large files in flat memory, and no output at all on failure.
 */
import { execFileSync, execSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { packTar, readAr, treeMembers, writeAr } from "@kiln/core";
import { writeArPackage, type ArPackageSpec } from "../src/ar-package.js";
import { collect, compress, compressorCommand, compressToFile, decompress, xzBlockSize, zstdJobSize, type Compression } from "../src/compress.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "kiln-ar-package-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const MTIME = 1_700_000_000;
const put = (rel: string, content: string | Buffer, mode = 0o644) => {
  const p = join(dir, "root", rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, content);
  chmodSync(p, mode);
  return p;
};

/** Text-like bytes that compress, from a fixed PRNG: the same on every call. */
function corpus(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  let x = seed;
  const words = ["kiln", "bake", "layer", "recipe", "task", "hash", "\n", "  ", "sstate", "deploy"];
  for (let at = 0; at < size; ) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const w = (x >>> 0) % 97 < 7 ? String((x >>> 0) % 100000) : words[(x >>> 0) % words.length]!;
    at += out.write(`${w} `, at);
  }
  return out;
}

function tree(): string {
  put("usr/bin/hello", "#!/bin/sh\necho hello\n", 0o755);
  put("usr/share/doc/hello/README", corpus(200_000));
  put("usr/lib/libhello.so.1.0", corpus(150_001, 7)); // odd size: the tar pads, the ar does not care
  put("etc/hello.conf", "greeting=hello\n");
  mkdirSync(join(dir, "root/var/empty"), { recursive: true });
  symlinkSync("libhello.so.1.0", join(dir, "root/usr/lib/libhello.so.1"));
  return join(dir, "root");
}

const spec = (root: string, compression: Compression, extra: Partial<ArPackageSpec> = {}): ArPackageSpec => ({
  control: [
    ["Package", "hello"],
    ["Version", "1.0-r0"],
    ["Architecture", "all"],
    ["Maintainer", "kiln <kiln@localhost>"],
    ["Description", "says hello"],
  ],
  root,
  compression,
  mtime: MTIME,
  md5sums: true,
  installedSize: { after: "Maintainer", unit: "KiB" },
  conffiles: ["/etc/hello.conf"],
  scripts: { postinst: "echo configured" },
  ...extra,
});

const dpkgDeb = (...args: string[]) => execFileSync("dpkg-deb", args, { encoding: "utf8" });
/** What is left in `dir` besides the inputs: no output, no temp file. */
const leftovers = () => readdirSync(dir).filter((n) => n !== "root");

describe("writeArPackage", () => {
  it.each(["xz", "zst", "gz"] as const)("is byte-identical across runs and read by dpkg-deb --info/--contents/--fsys-tarfile (%s)", async (compression) => {
    const root = tree();
    const a = join(dir, "a.deb");
    const b = join(dir, "b.deb");
    await writeArPackage(spec(root, compression), a);
    await writeArPackage(spec(root, compression), b);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);

    const info = dpkgDeb("--info", a);
    expect(info).toMatch(/^ Installed-Size: 342$/m); // (21 + 200000 + 150001 + 15) bytes, in KiB rounded up
    expect(info).toMatch(/postinst/);
    const contents = dpkgDeb("--contents", a);
    expect(contents).toMatch(/^-rwxr-xr-x root\/root\s+21 2023-11-14 \d\d:\d\d \.\/usr\/bin\/hello$/m);
    expect(contents).toMatch(/^lrwxrwxrwx root\/root\s+0 .* \.\/usr\/lib\/libhello\.so\.1 -> libhello\.so\.1\.0$/m);
    expect(contents).toMatch(/ \.\/var\/empty\/$/m);
    // data.tar is exactly what core's packTar writes for the tree: only the way it is produced changed.
    const tarBytes = execFileSync("dpkg-deb", ["--fsys-tarfile", a], { maxBuffer: 1 << 26 });
    const expected = await collect(packTar([{ name: "./", path: root, type: "directory", mode: 0o755 }, ...treeMembers(root, ".", { slashDirs: true })], MTIME));
    expect(tarBytes.equals(expected)).toBe(true);
  });

  it("writes the ar as core's writeAr would, with md5sums of every regular file", async () => {
    const root = tree();
    const out = join(dir, "hello.deb");
    await writeArPackage(spec(root, "zst"), out);
    const bytes = readFileSync(out);
    const members = readAr(bytes, out);
    expect(members.map((m) => m.name)).toEqual(["debian-binary", "control.tar.zst", "data.tar.zst"]);
    expect(writeAr(members, MTIME).equals(bytes)).toBe(true);
    const control = join(dir, "control");
    execFileSync("dpkg-deb", ["--control", out, control]);
    const md5 = (rel: string) => createHash("md5").update(readFileSync(join(root, rel))).digest("hex");
    const files = ["etc/hello.conf", "usr/bin/hello", "usr/lib/libhello.so.1.0", "usr/share/doc/hello/README"];
    expect(readFileSync(join(control, "md5sums"), "utf8")).toBe(files.map((f) => `${md5(f)}  ${f}\n`).join(""));
    execSync("md5sum --check --quiet -", { cwd: root, input: readFileSync(join(control, "md5sums")) });
  });

  it("streams a large file: memory stays flat and dpkg-deb reads it back", async () => {
    const big = put("usr/share/big.img", "");
    truncateSync(big, 256 * 1024 * 1024); // sparse: 256 MiB of zeros, no disk used
    const out = join(dir, "big.deb");
    const before = process.memoryUsage().rss;
    let peak = before;
    const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
    try {
      await writeArPackage(spec(join(dir, "root"), "zst", { compressionLevel: 1 }), out);
    } finally {
      clearInterval(sample);
    }
    expect(peak - before).toBeLessThan(96 * 1024 * 1024); // buffering the member would be >= 256 MiB
    const listing = execSync(`dpkg-deb --fsys-tarfile ${out} | tar -tv`, { encoding: "utf8" });
    expect(listing).toMatch(/ 268435456 .* \.\/usr\/share\/big\.img$/m);
  }, 60_000);

  it("refuses a FIFO in the tree, leaving no output and no temp file", async () => {
    const root = tree();
    execFileSync("mkfifo", [join(root, "usr/share/fifo")]);
    const out = join(dir, "hello.deb");
    await expect(writeArPackage(spec(root, "xz"), out)).rejects.toMatchObject({ code: "FATAL", message: expect.stringContaining("fifo") });
    expect(leftovers()).toEqual([]);
  });

  it.skipIf(process.getuid?.() === 0)("fails on an unreadable file, leaving no output and no temp file", async () => {
    const root = tree();
    chmodSync(join(root, "usr/lib/libhello.so.1.0"), 0);
    await expect(writeArPackage(spec(root, "xz"), join(dir, "hello.deb"))).rejects.toMatchObject({ code: "FATAL" });
    expect(leftovers()).toEqual([]);
  });

  it.each(["xz", "zst", "gz"] as const)("fails when a file vanishes while the compressor runs, leaving nothing (%s)", async (compression) => {
    // Unreadable files cannot be made as root; a file removed after the tree was
    // listed fails the same way, mid-stream: reading it.
    const root = tree();
    const out = join(dir, "hello.deb");
    const writing = writeArPackage(spec(root, compression), out);
    rmSync(join(root, "usr/share/doc/hello/README"));
    await expect(writing).rejects.toMatchObject({ code: "FATAL", message: expect.stringContaining("README") });
    expect(leftovers()).toEqual([]);
  });

  it("fails with a hint when the compressor is missing, leaving nothing", async () => {
    const root = tree();
    const path = process.env["PATH"];
    process.env["PATH"] = join(dir, "no-such-dir");
    try {
      await expect(writeArPackage(spec(root, "xz"), join(dir, "hello.deb"))).rejects.toMatchObject({ code: "FATAL", hint: "install xz-utils" });
    } finally {
      process.env["PATH"] = path;
    }
    expect(leftovers()).toEqual([]);
  });
});

/** How many pieces of `piece` bytes hold `size` bytes. */
const piecesOf = (size: number, piece: number) => Math.ceil(size / piece);

describe("compressors", () => {
  // Bigger than one xz block (24 MiB) and many zstd jobs at level 3 (8 MiB): the
  // thread count changes how the work is split, and must not change the bytes.
  let data: Buffer;
  beforeAll(() => {
    data = corpus(56 * 1024 * 1024, 3);
  });

  it("xz: the same bytes for 2 and 4 threads, streamed or not, and it decompresses", async () => {
    const two = await compress(data, "xz", { level: 1, threads: 2 });
    const four = await compress(data, "xz", { level: 1, threads: 4 });
    expect(two.equals(four)).toBe(true);
    const file = join(dir, "d.xz");
    await compressToFile(Readable.from([data.subarray(0, 1 << 20), data.subarray(1 << 20)]), "xz", file, { level: 1, size: data.length });
    expect(readFileSync(file).equals(two)).toBe(true);
    // level 1 (1 MiB dictionary): 56 MiB in the even number of equal blocks nearest to
    // 1.5 MiB (38), not xz's own 3 MiB blocks (18 x 3 + 2)
    expect(execFileSync("xz", ["--list", "--robot", file], { encoding: "utf8" })).toMatch(/^file\t1\t38\t/m); // 1 stream, 38 blocks
    expect(piecesOf(data.length, xzBlockSize(data.length, 1))).toBe(38);
    // level 6 (8 MiB dictionary): 100 MB is 8 blocks of 12.3 MiB, not 4 x 24 MiB + 4 MB
    expect(piecesOf(100e6, xzBlockSize(100e6, 6))).toBe(8);
    expect(xzBlockSize(100e6, 6) - 100e6 / 8).toBeLessThan(65536 / 8 + 4096); // equal, a little to spare
    expect(piecesOf(56 << 20, xzBlockSize(56 << 20))).toBe(4); // level 6 by default: 4 x 14 MiB
    expect(piecesOf(20 << 20, xzBlockSize(20 << 20, 6))).toBe(2); // 2 blocks, so both cores work
    expect(piecesOf(300e6, xzBlockSize(300e6, 9))).toBe(2); // level 9 (64 MiB dictionary): 2 blocks of 150 MB
    // under 1.5 half-blocks: one block, no bigger than the input needs (xz reserves
    // memory by the block size: 192 MiB blocks at -9 need 1.25 GiB per thread)
    expect(xzBlockSize(17 << 20, 6)).toBeGreaterThan(17 << 20);
    expect(xzBlockSize(17 << 20, 6)).toBeLessThan((17 << 20) + 128 * 1024);
    expect(xzBlockSize(1000, 9)).toBeLessThan(1 << 20);
    expect(xzBlockSize(100e6, 9)).toBeLessThan(100e6 + 128 * 1024);
    expect(xzBlockSize(undefined, 9)).toBe(192 << 20); // size unknown: xz's own
    expect(xzBlockSize(undefined, 0)).toBe(1 << 20); // xz's own at level 0: at least 1 MiB
    expect((await decompress(two, "xz")).equals(data)).toBe(true);
  }, 60_000);

  it("zstd: the same bytes for -T1, -T2 and -T0, streamed or not, in equal jobs", async () => {
    expect(piecesOf(data.length, zstdJobSize(3, data.length)!)).toBe(8); // 56 MiB: not 7 jobs of 8 MiB but 8 of 7
    const outs = await Promise.all([1, 2, 0].map((threads) => compress(data, "zst", { level: 3, threads })));
    expect(outs[1]!.equals(outs[0]!) && outs[2]!.equals(outs[0]!)).toBe(true);
    const file = join(dir, "d.zst");
    await compressToFile(Readable.from([data.subarray(0, 1 << 20), data.subarray(1 << 20)]), "zst", file, { level: 3, size: data.length });
    expect(readFileSync(file).equals(outs[0]!)).toBe(true);
    expect((await decompress(outs[0]!, "zst")).equals(data)).toBe(true);
  }, 60_000);

  it("zstd from level 16: jobs of about 1.5 windows with an eighth of a window of overlap, the same bytes for any thread count", async () => {
    // level 19 (8 MiB window): 100 MB in 8 jobs, not libzstd's 32 MiB ones; under 18 MiB one job
    expect(piecesOf(100e6, zstdJobSize(19, 100e6)!)).toBe(8);
    expect(zstdJobSize(19, 17 << 20)).toBeUndefined();
    expect(piecesOf(20 << 20, zstdJobSize(19, 20 << 20)!)).toBe(2);
    expect(compressorCommand("zst", { level: 19, size: 100e6 })[1]).toEqual(expect.arrayContaining([`-B${zstdJobSize(19, 100e6)}`, "--zstd=ovlog=6"]));
    // below level 16: libzstd's overlap
    expect(compressorCommand("zst", { level: 15, size: 100e6 })[1].some((a) => a.startsWith("--zstd="))).toBe(false);
    // level 16 (4 MiB window): 9.5 MiB is 2 jobs, the second starting from 512 KiB of the first
    const small = data.subarray(0, 9.5 * (1 << 20));
    expect(piecesOf(small.length, zstdJobSize(16, small.length)!)).toBe(2);
    const outs = await Promise.all([1, 2].map((threads) => compress(small, "zst", { level: 16, threads, size: small.length })));
    expect(outs[1]!.equals(outs[0]!)).toBe(true);
    expect((await decompress(outs[0]!, "zst")).equals(small)).toBe(true);
  }, 60_000);

  it("gz: streamed in any chunking is gzipSync's output, with no timestamp", async () => {
    const small = data.subarray(0, 3 << 20);
    const whole = await compress(small, "gz");
    const file = join(dir, "d.gz");
    const chunks = [small.subarray(0, 1000), small.subarray(1000, 70_000), small.subarray(70_000)];
    await compressToFile(Readable.from(chunks), "gz", file);
    expect(readFileSync(file).equals(whole)).toBe(true);
    expect(whole.readUInt32LE(4)).toBe(0);
  });

  it("fails with the input's error, not the compressor's, when the input fails", async () => {
    const failing = new Readable({
      read() {
        this.destroy(new Error("input broke"));
      },
    });
    await expect(compressToFile(failing, "xz", join(dir, "d.xz"))).rejects.toThrow("input broke");
  });
});
