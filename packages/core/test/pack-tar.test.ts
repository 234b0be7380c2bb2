import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tar from "tar-stream";
import { afterAll, describe, expect, it } from "vitest";
import { packTar, treeMembers, WHOLE_FILE, type TreeMember } from "../src/util/pack-tar.js";
import { tarEntries } from "../src/util/read-tar.js";

const dir = mkdtempSync(join(tmpdir(), "kiln-pack-tar-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function bytes(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The archive tar-stream writes for the same members: what kiln's archives were made with before its own encoder. */
async function viaTarStream(members: TreeMember[], mtime: number): Promise<Buffer> {
  const pack = tar.pack();
  const out = bytes(pack);
  for (const m of members) {
    const header = { name: m.name, mode: m.mode, mtime: new Date(mtime * 1000), uid: 0, gid: 0, uname: "root", gname: "root" };
    if (m.type === "directory") pack.entry({ ...header, type: "directory" });
    else if (m.type === "symlink") pack.entry({ ...header, type: "symlink", linkname: m.linkname });
    else {
      const { readFileSync } = await import("node:fs");
      pack.entry({ ...header, type: "file" }, m.content ?? readFileSync(m.path));
    }
  }
  pack.finalize();
  return out;
}

describe("packTar", () => {
  const tree = join(dir, "tree");
  mkdirSync(join(tree, "d".repeat(120), "e".repeat(90)), { recursive: true });
  mkdirSync(join(tree, "z".repeat(200), "y".repeat(160)), { recursive: true });
  writeFileSync(join(tree, "d".repeat(120), "e".repeat(90), "f"), "deep");
  writeFileSync(join(tree, "ünïcode"), "not ascii");
  writeFileSync(join(tree, "big"), Buffer.alloc(WHOLE_FILE * 2 + 12345, 7));
  writeFileSync(join(tree, "no-mode"), "");
  chmodSync(join(tree, "no-mode"), 0);
  symlinkSync(`/${"t".repeat(200)}`, join(tree, "long-link"));
  symlinkSync("short", join(tree, "link"));
  // enough files of odd sizes (and a long name now and then) to cross many piece boundaries
  mkdirSync(join(tree, "many"));
  for (let i = 0; i < 400; i++) writeFileSync(join(tree, "many", i % 37 ? `f${i}` : `${"n".repeat(150)}${i}`), Buffer.alloc((i * 7919) % 20000, i));

  it("writes what tar-stream wrote, byte for byte (ustar, prefixes, pax names and links, mode 0, large files)", async () => {
    for (const [prefix, slashDirs] of [[".", true], ["", false]] as const) {
      const members = [...treeMembers(tree, prefix, { slashDirs }), { name: "./in-memory", path: "", type: "file" as const, mode: 0o600, content: Buffer.from("content") }];
      const ours = await bytes(packTar(members, 1700000000));
      expect(ours.equals(await viaTarStream(members, 1700000000))).toBe(true);
      // and it reads back: names, link targets, contents
      const back = new Map([...tarEntries(ours)].map((e) => [e.name, e]));
      expect(back.get(`${prefix ? "./" : ""}long-link`)?.linkname).toBe(`/${"t".repeat(200)}`);
      expect(back.get(`${prefix ? "./" : ""}big`)?.body.equals(Buffer.alloc(WHOLE_FILE * 2 + 12345, 7))).toBe(true);
      expect(back.get(`${prefix ? "./" : ""}ünïcode`)?.body.toString()).toBe("not ascii");
    }
  });

  it("hands each file's content to `observe`, then null", async () => {
    const seen: string[] = [];
    const members = treeMembers(tree, ".").filter((m) => m.type === "file");
    let total = 0;
    await bytes(packTar(members, 0, { observe: (m, chunk) => (chunk ? (total += chunk.length) : seen.push(m.name)) }));
    expect(seen).toEqual(members.map((m) => m.name));
    expect(total).toBe(4 + 9 + WHOLE_FILE * 2 + 12345 + Array.from({ length: 400 }, (_, i) => (i * 7919) % 20000).reduce((a, b) => a + b, 0));
  });

  it("fails naming a file that is missing or changed since it was listed", async () => {
    const file = join(dir, "changing");
    writeFileSync(file, "12345");
    const member: TreeMember = { name: "changing", path: file, type: "file", mode: 0o644, size: 3 };
    await expect(bytes(packTar([member], 0))).rejects.toThrow(`${file} changed while it was being archived (3 bytes listed, 5 read)`);
    const big: TreeMember = { name: "big", path: join(tree, "big"), type: "file", mode: 0o644, size: WHOLE_FILE * 3 };
    await expect(bytes(packTar([big], 0))).rejects.toThrow(/changed while it was being archived/);
    const gone: TreeMember = { name: "gone", path: join(dir, "gone"), type: "file", mode: 0o644, size: 1 };
    await expect(bytes(packTar([gone], 0, { readError: (m, cause) => new Error(`cannot package ${m.path}: ${cause.message}`) }))).rejects.toThrow(`cannot package ${join(dir, "gone")}: ENOENT`);
  });
});
