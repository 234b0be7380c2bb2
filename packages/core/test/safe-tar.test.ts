import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import tar from "tar-stream";
import { afterAll, describe, expect, it } from "vitest";
import { extractTarStream } from "../src/util/safe-tar.js";

const dir = mkdtempSync(join(tmpdir(), "kiln-safe-tar-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Member = { name: string; type?: "file" | "directory" | "symlink" | "link"; body?: string; linkname?: string; mode?: number };

async function archive(members: Member[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const m of members) {
    const header = { name: m.name, type: m.type ?? "file", linkname: m.linkname, mode: m.mode };
    if ((m.type ?? "file") === "file") pack.entry(header, m.body ?? "");
    else pack.entry(header);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

let n = 0;
/** A fresh destination inside a fresh parent, so what lands beside the destination can be seen. */
function place(): { parent: string; dest: string } {
  const parent = join(dir, `case${n++}`);
  mkdirSync(join(parent, "dest"), { recursive: true });
  return { parent, dest: join(parent, "dest") };
}

const extract = async (dest: string, members: Member[], strip?: number) => extractTarStream(Readable.from([await archive(members)]), dest, "archive t.tar", { strip });

describe("extractTarStream", () => {
  it("refuses a chain of links that would carry a member outside (l -> ., l/m -> .., m/x)", async () => {
    const { parent, dest } = place();
    await expect(
      extract(dest, [
        { name: "l", type: "symlink", linkname: "." },
        { name: "l/m", type: "symlink", linkname: ".." },
        { name: "m/escape", body: "pwned" },
      ]),
    ).rejects.toThrow("archive t.tar: member 'l/m' would be extracted through the symlink 'l'");
    expect(existsSync(join(parent, "escape"))).toBe(false);
  });

  it("resolves a link's target through links already there, and checks them all again at the end", async () => {
    const { dest } = place();
    // `up` looks harmless (`x/..` is the root) until `x` becomes a link to `.`
    await expect(
      extract(dest, [
        { name: "up", type: "symlink", linkname: "x/.." },
        { name: "x", type: "symlink", linkname: "." },
      ]),
    ).rejects.toThrow("link 'up' -> 'x/..' points outside its directory");
    const other = place();
    await expect(
      extract(other.dest, [
        { name: "dot", type: "symlink", linkname: "." },
        { name: "out", type: "symlink", linkname: "dot/.." },
      ]),
    ).rejects.toThrow("link 'out' -> 'dot/..' points outside its directory");
  });

  it("writes a file over a link without following it", async () => {
    const { parent, dest } = place();
    writeFileSync(join(parent, "victim"), "keep");
    await extract(dest, [
      { name: "sub/", type: "directory" },
      { name: "sub/f", type: "symlink", linkname: "../g" },
      { name: "sub/f", body: "new" },
    ]);
    expect(lstatSync(join(dest, "sub/f")).isFile()).toBe(true);
    expect(readFileSync(join(dest, "sub/f"), "utf8")).toBe("new");
    expect(readFileSync(join(parent, "victim"), "utf8")).toBe("keep");
  });

  it("extracts hard links to earlier files (also under --strip-components), refuses others", async () => {
    const { dest } = place();
    await extract(
      dest,
      [
        { name: "pkg-1.0/bin/tool", body: "#!/bin/sh\n", mode: 0o755 },
        { name: "pkg-1.0/bin/tool-alias", type: "link", linkname: "pkg-1.0/bin/tool" },
        { name: "pkg-1.0/rel", type: "symlink", linkname: "bin/tool" },
      ],
      1,
    );
    expect(statSync(join(dest, "bin/tool-alias")).ino).toBe(statSync(join(dest, "bin/tool")).ino);
    expect(statSync(join(dest, "bin/tool")).mode & 0o777).toBe(0o755);
    expect(readlinkSync(join(dest, "rel"))).toBe("bin/tool");
    const other = place();
    await expect(extract(other.dest, [{ name: "a", type: "link", linkname: "missing" }])).rejects.toThrow("hard link 'a' -> 'missing' does not name an earlier regular file");
    await expect(extract(other.dest, [{ name: "b", type: "link", linkname: "../etc/passwd" }])).rejects.toThrow("member '../etc/passwd' escapes its directory");
  });

  it("odd links: through a file, empty, endless, a hard link to itself; an escaping link found at the end is removed", async () => {
    const { dest } = place();
    await extract(dest, [
      { name: "f", body: "file" },
      { name: "l", type: "symlink", linkname: "f/x" },
    ]);
    expect(readlinkSync(join(dest, "l"))).toBe("f/x");
    await expect(extract(place().dest, [{ name: "e", type: "symlink", linkname: "" }])).rejects.toThrow("link 'e' has no target");
    const t0 = performance.now();
    await expect(extract(place().dest, [{ name: "long", type: "symlink", linkname: "./".repeat(400_000) }])).rejects.toThrow("has a target longer than 4095 bytes");
    expect(performance.now() - t0).toBeLessThan(5000);
    const self = place();
    await expect(extract(self.dest, [{ name: "a", body: "keep" }, { name: "a", type: "link", linkname: "a" }])).rejects.toThrow("hard link 'a' -> 'a' does not name an earlier regular file");
    expect(readFileSync(join(self.dest, "a"), "utf8")).toBe("keep");
    const late = place();
    await expect(extract(late.dest, [{ name: "up", type: "symlink", linkname: "x/.." }, { name: "x", type: "symlink", linkname: "." }])).rejects.toThrow("points outside");
    expect(existsSync(join(late.dest, "up")) || lstatSync(join(late.dest, "up"), { throwIfNoEntry: false }) !== undefined).toBe(false);
  });

  it("keeps directory modes (1777, 0700, a read-only 0555 with contents)", async () => {
    const { dest } = place();
    await extract(dest, [
      { name: "tmp/", type: "directory", mode: 0o1777 },
      { name: "private/", type: "directory", mode: 0o700 },
      { name: "ro/", type: "directory", mode: 0o555 },
      { name: "ro/file", body: "in" },
    ]);
    expect(statSync(join(dest, "tmp")).mode & 0o7777).toBe(0o1777);
    expect(statSync(join(dest, "private")).mode & 0o7777).toBe(0o700);
    expect(statSync(join(dest, "ro")).mode & 0o7777).toBe(0o555);
    expect(readFileSync(join(dest, "ro/file"), "utf8")).toBe("in");
  });

  it("refuses absolute and climbing names and links (as before)", async () => {
    const { dest } = place();
    await expect(extract(dest, [{ name: "../x", body: "x" }])).rejects.toThrow("member '../x' escapes its directory");
    await expect(extract(dest, [{ name: "abs", type: "symlink", linkname: "/etc/passwd" }])).rejects.toThrow("link 'abs' -> '/etc/passwd' points outside its directory");
    await expect(extract(dest, [{ name: "up", type: "symlink", linkname: "../.." }])).rejects.toThrow("points outside its directory");
  });
});
