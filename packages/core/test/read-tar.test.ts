import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync, linkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tar from "tar-stream";
import { afterAll, describe, expect, it } from "vitest";
import { tarEntries, TarFormatError, type TarEntry } from "../src/util/read-tar.js";

const dir = mkdtempSync(join(tmpdir(), "kiln-read-tar-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const summary = (e: TarEntry) => ({ name: e.name, type: e.type, mode: e.mode, mtime: e.mtime, linkname: e.linkname, body: e.body.toString() });

async function packed(entries: [tar.Headers, string?][]): Promise<Buffer> {
  const pack = tar.pack();
  for (const [h, body] of entries) pack.entry(h, body);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe("tarEntries", () => {
  it("reads GNU tar's own archive: long names (L) and link targets (K), symlinks, hard links, modes, mtimes", () => {
    const tree = join(dir, "gnu");
    const long = `${"d".repeat(60)}/${"e".repeat(60)}`;
    mkdirSync(join(tree, long), { recursive: true });
    writeFileSync(join(tree, long, `${"f".repeat(120)}.txt`), "long content\n", { mode: 0o640 });
    writeFileSync(join(tree, "short"), "x".repeat(1000), { mode: 0o755 });
    linkSync(join(tree, "short"), join(tree, "hard"));
    symlinkSync(`/${"t".repeat(150)}`, join(tree, "abs-link"));
    for (const p of ["short", `${long}/${"f".repeat(120)}.txt`]) utimesSync(join(tree, p), 1700000000, 1700000000);
    const archive = execFileSync("tar", ["--format=gnu", "--sort=name", "-C", tree, "-cf", "-", "."]);
    const got = [...tarEntries(archive)];
    const byName = new Map(got.map((e) => [e.name, e]));
    expect(byName.get(`./${long}/${"f".repeat(120)}.txt`)).toMatchObject({ type: "file", mode: 0o640, mtime: 1700000000, body: Buffer.from("long content\n") });
    expect(byName.get("./abs-link")).toMatchObject({ type: "symlink", linkname: `/${"t".repeat(150)}` });
    // GNU tar stores the second name of a hard-linked pair (sorted: ./short) as a link to the first
    expect(byName.get("./hard")).toMatchObject({ type: "file", mode: 0o755, size: 1000 });
    expect(byName.get("./hard")?.body.toString()).toBe("x".repeat(1000));
    expect(byName.get("./short")).toMatchObject({ type: "link", linkname: "./hard", size: 0 });
    expect(byName.get(`./${long}/`)?.type).toBe("directory");
  });

  it("reads pax headers (tar-stream's long names) and the ustar prefix", async () => {
    const paxName = `${"p".repeat(80)}/${"q".repeat(80)}/file`;
    const archive = await packed([
      [{ name: paxName, mode: 0o600, mtime: new Date(1600000000000) }, "pax"],
      [{ name: "plain", type: "symlink", linkname: "target" }],
      [{ name: "dir/", type: "directory", mode: 0o755 }],
    ]);
    expect([...tarEntries(archive)].map(summary)).toEqual([
      { name: paxName, type: "file", mode: 0o600, mtime: 1600000000, linkname: "", body: "pax" },
      { name: "plain", type: "symlink", mode: 0o644, mtime: expect.any(Number), linkname: "target", body: "" },
      { name: "dir/", type: "directory", mode: 0o755, mtime: expect.any(Number), linkname: "", body: "" },
    ]);
    // a POSIX ustar archive from GNU tar splits a long name into prefix + name
    const tree = join(dir, "ustar");
    const deep = `${"a".repeat(90)}/${"b".repeat(40)}`;
    mkdirSync(join(tree, deep), { recursive: true });
    writeFileSync(join(tree, deep, "leaf"), "leaf");
    const ustar = execFileSync("tar", ["--format=ustar", "-C", tree, "-cf", "-", deep]);
    expect(ustar.toString("latin1", 345, 345 + 90)).toBe("a".repeat(90)); // the prefix field is used
    expect([...tarEntries(ustar)].map((e) => e.name)).toEqual([`${deep}/`, `${deep}/leaf`]);
  });

  it("reports a damaged header, a member running past the end, and unknown types by their flag", async () => {
    const archive = await packed([[{ name: "a", mode: 0o644 }, "hello"]]);
    const bad = Buffer.from(archive);
    bad[0] ^= 0xff;
    expect(() => [...tarEntries(bad)]).toThrow(new TarFormatError("bad header checksum at offset 0"));
    const cut = archive.subarray(0, 512 + 2);
    expect(() => [...tarEntries(cut)]).toThrow(/runs past the end/);
    const fifo = await packed([[{ name: "pipe", type: "fifo" }]]);
    expect([...tarEntries(fifo)][0].type).toBe("fifo");
    const odd = Buffer.from(archive);
    odd[156] = "V".charCodeAt(0);
    // a fixed checksum for the new flag byte
    const sum = [...odd.subarray(0, 512)].reduce((s, c, i) => s + (i >= 148 && i < 156 ? 32 : c), 0);
    odd.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
    expect([...tarEntries(odd)][0]).toMatchObject({ type: "unknown", flag: "V" });
  });

  it("accepts a header checksum summed over unsigned or signed bytes (old tars), and nothing else", async () => {
    // a name with bytes above 127 (latin-1), where the two sums differ
    const archive = Buffer.from(await packed([[{ name: "cafe", mode: 0o644 }, "hi"]]));
    archive[3] = 0xe9;
    archive[4] = 0xfc;
    const header = [...archive.subarray(0, 512)].map((c, i) => (i >= 148 && i < 156 ? 32 : c));
    const unsigned = header.reduce((s, c) => s + c, 0);
    const signed = header.reduce((s, c) => s + (c > 127 ? c - 256 : c), 0);
    expect(signed).not.toBe(unsigned);
    const withSum = (sum: number) => {
      const b = Buffer.from(archive);
      b.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
      return b;
    };
    for (const sum of [unsigned, signed]) expect([...tarEntries(withSum(sum))][0]).toMatchObject({ type: "file", body: Buffer.from("hi") });
    expect(() => [...tarEntries(withSum(unsigned + 1))]).toThrow(/bad header checksum/);
    expect(() => [...tarEntries(withSum(signed - 256))]).toThrow(/bad header checksum/);
  });

  it("applies a pax size to the member, not to a GNU long-name header between; an old-style trailing slash is a directory", () => {
    const header = (name: string, flag: string, size: number) => {
      const h = Buffer.alloc(512);
      h.write(name, 0);
      h.write("0000644\0", 100);
      h.write("0000000\0", 108);
      h.write("0000000\0", 116);
      h.write(`${size.toString(8).padStart(11, "0")}\0`, 124);
      h.write("00000000000\0", 136);
      h.write(flag, 156, "latin1");
      h.write("ustar  \0", 257, "latin1");
      const sum = [...h].reduce((s, c, i) => s + (i >= 148 && i < 156 ? 32 : c), 0);
      h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
      return h;
    };
    const block = (text: string) => Buffer.concat([Buffer.from(text), Buffer.alloc((512 - (text.length % 512)) % 512)]);
    const pax = "10 size=5\n";
    const longName = `${"x".repeat(120)}\0`;
    const archive = Buffer.concat([
      header("PaxHeader", "x", pax.length), block(pax),
      header("././@LongLink", "L", longName.length), block(longName),
      header("short", "0", 0), block("hello"),
      header("olddir/", "0", 0),
      Buffer.alloc(1024),
    ]);
    const got = [...tarEntries(archive)];
    expect(got.map((e) => [e.name, e.type, e.body.toString()])).toEqual([
      ["x".repeat(120), "file", "hello"],
      ["olddir/", "directory", ""],
    ]);
  });

  it("reads GNU base-256 numbers and stops at the first zero block", () => {
    const h = Buffer.alloc(512 * 4);
    h.write("big", 0);
    h.write("0000644\0", 100);
    h.write("0000000\0", 108);
    h.write("0000000\0", 116);
    h.write("00000000003\0", 124);
    // an mtime past the octal field's range, as GNU tar writes it
    h[136] = 0x80;
    h.writeUIntBE(2 ** 40, 142, 6);
    h[156] = "0".charCodeAt(0);
    h.write("ustar  \0", 257, "latin1");
    const sum = [...h.subarray(0, 512)].reduce((s, c, i) => s + (i >= 148 && i < 156 ? 32 : c), 0);
    h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
    h.write("abc", 512);
    const [e, ...rest] = [...tarEntries(h)];
    expect(e).toMatchObject({ name: "big", mtime: 2 ** 40, size: 3 });
    expect(e.body.toString()).toBe("abc");
    expect(rest).toEqual([]);
  });
});
