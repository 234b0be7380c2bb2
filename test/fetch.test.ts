/**
 * do_fetch / do_unpack / do_patch through the CLI against an HTTP server on
 * 127.0.0.1 started by the test: checksums, strictness, BB_NO_NETWORK after
 * --runall=fetch, two builds fetching one file at once, hostile archives, patches.
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import tar from "tar-stream";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { clearFileCache } from "@kiln/core";
import { main } from "@kiln/cli";

const BIN = join(dirname(fileURLToPath(import.meta.url)), "..", "packages", "cli", "bin", "kiln.js");
const files = new Map<string, Buffer>();
const gets: string[] = [];
const ranges: string[] = [];
let server: Server;
let port: number;
let delayMs = 0;

async function tarGz(entries: { name: string; body?: string; type?: "symlink"; linkname?: string }[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    if (e.type === "symlink") pack.entry({ name: e.name, type: "symlink", linkname: e.linkname });
    else pack.entry({ name: e.name }, e.body ?? "");
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return gzipSync(Buffer.concat(chunks));
}
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** An ar archive as dpkg-deb writes one. */
function ar(members: [string, Buffer][]): Buffer {
  const parts: Buffer[] = [Buffer.from("!<arch>\n")];
  for (const [name, data] of members) {
    const h = `${name.padEnd(16)}${"0".padEnd(12)}${"0".padEnd(6)}${"0".padEnd(6)}${"100644".padEnd(8)}${String(data.length).padEnd(10)}\x60\n`;
    parts.push(Buffer.from(h, "latin1"), data);
    if (data.length % 2) parts.push(Buffer.from("\n"));
  }
  return Buffer.concat(parts);
}

function zip(entries: Record<string, string>): Buffer {
  const script = "import sys,zipfile,io,json\nb=io.BytesIO()\nz=zipfile.ZipFile(b,'w')\nfor k,v in json.loads(sys.argv[1]).items(): z.writestr(k,v)\nz.close()\nsys.stdout.buffer.write(b.getvalue())";
  return execFileSync("python3", ["-c", script, JSON.stringify(entries)]);
}

beforeAll(async () => {
  files.set("/src-1.0.tar.gz", await tarGz([{ name: "src-1.0/hello.txt", body: "hello world\n" }]));
  files.set("/evil-1.0.tar.gz", await tarGz([{ name: "src-1.0/ok.txt", body: "ok" }, { name: "src-1.0/../../escaped.txt", body: "gotcha" }]));
  files.set("/hello_1.0_all.deb", ar([["debian-binary", Buffer.from("2.0\n")], ["control.tar.gz", await tarGz([{ name: "./control", body: "Package: hello\n" }])], ["data.tar.gz", await tarGz([{ name: "./usr/share/hello/hello.txt", body: "from a deb\n" }])]]));
  files.set("/evil_1.0_all.deb", ar([["debian-binary", Buffer.from("2.0\n")], ["data.tar.gz", await tarGz([{ name: "./../../escaped.txt", body: "x" }])]]));
  files.set("/src.zip", zip({ "src-1.0/hello.txt": "hello from a zip\n" }));
  files.set("/evil.zip", zip({ "../escaped.txt": "x" }));
  server = createServer((req, res) => {
    const body = files.get((req.url ?? "").replace(/^\/(stall|truncate|ranged)\//, "/"));
    if (req.method === "GET") gets.push(req.url ?? "");
    if (req.url?.startsWith("/stall/")) return; // never answers
    if (req.url?.startsWith("/ranged/") && body) {
      ranges.push(String(req.headers.range ?? ""));
      const m = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ""));
      if (m) {
        const from = Number(m[1]);
        res.writeHead(206, { "content-length": body.length - from, "content-range": `bytes ${from}-${body.length - 1}/${body.length}` });
        res.end(body.subarray(from));
      } else {
        // the first time, the connection drops halfway
        res.writeHead(200, { "content-length": body.length });
        res.write(body.subarray(0, body.length >> 1));
        setTimeout(() => res.destroy(), 20);
      }
      return;
    }
    if (req.url?.startsWith("/truncate/") && body) {
      res.writeHead(200, { "content-length": body.length });
      res.write(body.subarray(0, body.length >> 1));
      setTimeout(() => res.destroy(), 20);
      return;
    }
    if (!body) return void res.writeHead(404).end();
    setTimeout(() => {
      res.writeHead(200, { "content-length": body.length });
      res.end(body);
    }, delayMs);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

let root: string;
const write = (rel: string, text: string) => {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text);
};
const PATCH = `--- a/hello.txt\n+++ b/hello.txt\n@@ -1 +1 @@\n-hello world\n+hello patched world\n`;

function recipe(opts: { archive?: string; sum?: string | null; patch?: string; extra?: string; upstream?: string } = {}): void {
  const archive = opts.archive ?? "src-1.0.tar.gz";
  const sum = opts.sum === undefined ? sha(files.get(`/${archive}`) as Buffer) : opts.sum;
  const upstream = opts.upstream ?? `http://127.0.0.1:${port}/${archive}`;
  write(
    "meta-f/recipes/src_1.0.bb",
    [
      `SRC_URI = "${upstream} file://fix.patch"`,
      sum === null ? "" : `SRC_URI[sha256sum] = "${sum}"`,
      `S = "\${WORKDIR}/src-1.0"`,
      `do_compile() {`,
      `\tcp \${S}/hello.txt \${WORKDIR}/result.txt`,
      `}`,
      opts.extra ?? "",
      ``,
    ].join("\n"),
  );
  write("meta-f/recipes/src/fix.patch", opts.patch ?? PATCH);
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "kiln-fetch-"));
  gets.length = 0;
  delayMs = 0;
  write("build/conf/bblayers.conf", `BBPATH = "\${TOPDIR}"\nBBLAYERS = "\${TOPDIR}/../meta-f"\n`);
  write("build/conf/local.conf", `MACHINE = "m1"\nDL_DIR = "\${TOPDIR}/downloads"\n`);
  write(
    "meta-f/conf/layer.conf",
    `BBPATH .= ":\${LAYERDIR}"\nBBFILES += "\${LAYERDIR}/recipes/*.bb"\nBBFILE_COLLECTIONS += "f"\nBBFILE_PATTERN_f = "^\${LAYERDIR}/"\nBBFILE_PRIORITY_f = "5"\n`,
  );
});
afterEach(() => {
  if (!process.env.KILN_KEEP_TMP) rmSync(root, { recursive: true, force: true });
});

async function kiln(args: string[], local = "") {
  if (local) write("build/conf/local.conf", `MACHINE = "m1"\nDL_DIR = "\${TOPDIR}/downloads"\n${local}\n`);
  clearFileCache();
  let out = "";
  const code = await main(args, { cwd: join(root, "build"), env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/root" }, io: { out: (t) => (out += t), err: (t) => (out += t) } });
  return { code, out };
}
const result = () => {
  const work = join(root, "build", "tmp", "work");
  const find = (dir: string): string | undefined => {
    for (const name of existsSync(dir) ? readdirSync(dir) : []) {
      const p = join(dir, name);
      if (name === "result.txt") return p;
      if (statSync(p).isDirectory()) {
        const hit = find(p);
        if (hit) return hit;
      }
    }
    return undefined;
  };
  const p = find(work);
  return p ? readFileSync(p, "utf8") : undefined;
};

describe("fetch, unpack, patch", () => {
  it("downloads into DL_DIR (checked, marked done), unpacks into WORKDIR and applies the patch in S", async () => {
    recipe();
    const r = await kiln(["src"]);
    expect(r.code, r.out).toBe(0);
    expect(existsSync(join(root, "build/downloads/src-1.0.tar.gz"))).toBe(true);
    expect(existsSync(join(root, "build/downloads/src-1.0.tar.gz.done"))).toBe(true);
    expect(result()).toBe("hello patched world\n");
    expect(gets).toEqual(["/src-1.0.tar.gz"]);
  });

  it("the done stamp records the file's sha256, size and mtime; a file changed in DL_DIR since is checked again and fetched anew", async () => {
    recipe();
    expect((await kiln(["src", "--runall=fetch"])).code).toBe(0);
    const file = join(root, "build/downloads/src-1.0.tar.gz");
    const original = readFileSync(file);
    const [sum, size] = readFileSync(`${file}.done`, "utf8").trim().split(" ");
    expect([sum, Number(size)]).toEqual([sha(original), original.length]);
    // same size, other bytes, a new mtime: the stamp no longer vouches for it
    const tampered = Buffer.from(original);
    tampered[tampered.length - 1] ^= 0xff;
    writeFileSync(file, tampered);
    gets.length = 0;
    const r = await kiln(["src", "-c", "fetch", "-f"]);
    expect(r.code, r.out).toBe(0);
    expect(gets).toEqual(["/src-1.0.tar.gz"]);
    expect(readFileSync(file).equals(original)).toBe(true);
    // unchanged: trusted without a download
    gets.length = 0;
    expect((await kiln(["src", "-c", "fetch", "-f"])).code).toBe(0);
    expect(gets).toEqual([]);
  });

  it("a checksum mismatch fails naming the URL and both sums, and keeps nothing", async () => {
    recipe({ sum: "0".repeat(64) });
    const r = await kiln(["src"]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`Checksum mismatch for http://127.0.0.1:${port}/src-1.0.tar.gz`);
    expect(r.out).toContain(`expected sha256 ${"0".repeat(64)}, got ${sha(files.get("/src-1.0.tar.gz") as Buffer)}`);
    expect(existsSync(join(root, "build/downloads/src-1.0.tar.gz"))).toBe(false);
  });

  it("a remote file without a checksum is an error giving the sum to add, unless BB_STRICT_CHECKSUM = 0", async () => {
    recipe({ sum: null });
    const r = await kiln(["src"]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`SRC_URI[sha256sum] = "${sha(files.get("/src-1.0.tar.gz") as Buffer)}"`);
    expect((await kiln(["src"], `BB_STRICT_CHECKSUM = "0"`)).code).toBe(0);
  });

  it("BB_NO_NETWORK refuses downloads naming the URL; after --runall=fetch the same build works offline", async () => {
    recipe();
    const offline = await kiln(["src"], `BB_NO_NETWORK = "1"`);
    expect(offline.code).toBe(1);
    expect(offline.out).toMatch(/src-1\.0\.tar\.gz: network access is disabled \(BB_NO_NETWORK = "1"\)/);
    expect((await kiln(["src", "--runall=fetch"], " ")).code).toBe(0);
    expect(result()).toBeUndefined(); // only fetched
    gets.length = 0;
    const r = await kiln(["src"], `BB_NO_NETWORK = "1"`);
    expect(r.code, r.out).toBe(0);
    expect(result()).toBe("hello patched world\n");
    expect(gets).toEqual([]);
  });

  it("two builds fetching the same file at once: one downloads, the other waits and reuses it", async () => {
    recipe();
    delayMs = 400;
    const other = mkdtempSync(join(tmpdir(), "kiln-fetch-other-"));
    try {
      // a second build directory using the same layer and the same DL_DIR
      mkdirSync(join(other, "conf"), { recursive: true });
      writeFileSync(join(other, "conf/bblayers.conf"), `BBPATH = "\${TOPDIR}"\nBBLAYERS = "${join(root, "meta-f")}"\n`);
      writeFileSync(join(other, "conf/local.conf"), `MACHINE = "m1"\nDL_DIR = "${join(root, "build", "downloads")}"\n`);
      const run = (cwd: string) =>
        new Promise<number>((resolve) => {
          const c = spawn(process.execPath, [BIN, "src", "-c", "fetch"], { cwd, env: { PATH: process.env.PATH, HOME: "/root" }, stdio: "ignore" });
          c.once("close", (code) => resolve(code ?? -1));
        });
      expect(await Promise.all([run(join(root, "build")), run(other)])).toEqual([0, 0]);
      expect(gets).toEqual(["/src-1.0.tar.gz"]);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  }, 30_000);

  it("refuses an archive member that escapes WORKDIR, naming the archive and the member", async () => {
    recipe({ archive: "evil-1.0.tar.gz" });
    const r = await kiln(["src"]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/archive evil-1\.0\.tar\.gz: member 'src-1\.0\/\.\.\/\.\.\/escaped\.txt' escapes its directory/);
    expect(existsSync(join(root, "build", "tmp", "work", "escaped.txt"))).toBe(false);
  });

  it("a patch that does not apply fails naming the patch and the hunk", async () => {
    recipe({ patch: PATCH.replace("-hello world", "-goodbye world") });
    const r = await kiln(["src"]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/Applying patch fix\.patch failed/);
    expect(r.out).toMatch(/Hunk #1 FAILED/);
  });

  it("MIRRORS: an upstream that 404s falls through to a mirror", async () => {
    recipe({ upstream: `http://127.0.0.1:${port}/gone/src-1.0.tar.gz` });
    const r = await kiln(["src"], `MIRRORS = "http://.*/.* http://127.0.0.1:${port}/"`);
    expect(r.code, r.out).toBe(0);
    expect(gets).toEqual(["/gone/src-1.0.tar.gz", "/src-1.0.tar.gz"]);
    expect(result()).toBe("hello patched world\n");
  });

  it("PREMIRRORS: a premirror hit means upstream is never contacted", async () => {
    const pre = mkdtempSync(join(tmpdir(), "kiln-premirror-"));
    try {
      writeFileSync(join(pre, "src-1.0.tar.gz"), files.get("/src-1.0.tar.gz") as Buffer);
      recipe();
      const r = await kiln(["src"], `PREMIRRORS = "http://.*/.* file://${pre}/"`);
      expect(r.code, r.out).toBe(0);
      expect(gets).toEqual([]);
    } finally {
      rmSync(pre, { recursive: true, force: true });
    }
  });

  it("BB_FETCH_PREMIRRORONLY: only premirrors are tried", async () => {
    recipe();
    const r = await kiln(["src"], `PREMIRRORS = "http://.*/.* http://127.0.0.1:${port}/gone/"\nBB_FETCH_PREMIRRORONLY = "1"`);
    expect(r.code).toBe(1);
    expect(gets).toEqual(["/gone/src-1.0.tar.gz"]);
  });

  it("a stalled upstream times out (BB_FETCH_TIMEOUT) and a truncated mirror download is rejected, then the next mirror works", async () => {
    recipe({ upstream: `http://127.0.0.1:${port}/stall/src-1.0.tar.gz` });
    const r = await kiln(["src"], `BB_FETCH_TIMEOUT = "1"\nMIRRORS = "http://.*/.* http://127.0.0.1:${port}/truncate/ \\n http://.*/.* http://127.0.0.1:${port}/"`);
    expect(r.code, r.out).toBe(0);
    expect(gets).toEqual(["/stall/src-1.0.tar.gz", "/truncate/src-1.0.tar.gz", "/src-1.0.tar.gz"]);
    expect(result()).toBe("hello patched world\n");
  }, 20_000);

  it("git: a local repository as upstream — bare clone in DL_DIR/git2, SRCREV pinned, AUTOREV follows the branch, a revision off the branch is refused", async () => {
    const repo = mkdtempSync(join(tmpdir(), "kiln-git-upstream-"));
    const gitEnv = { ...process.env, GIT_AUTHOR_NAME: "kiln", GIT_AUTHOR_EMAIL: "kiln@localhost", GIT_COMMITTER_NAME: "kiln", GIT_COMMITTER_EMAIL: "kiln@localhost" };
    const g = (...args: string[]) => execFileSync("git", args, { cwd: repo, env: gitEnv, encoding: "utf8" }).trim();
    try {
      g("init", "-q", "-b", "main");
      writeFileSync(join(repo, "hello.txt"), "first\n");
      g("add", "hello.txt");
      g("commit", "-q", "-m", "first");
      const first = g("rev-parse", "HEAD");
      writeFileSync(join(repo, "hello.txt"), "second\n");
      g("commit", "-q", "-am", "second");
      g("checkout", "-q", "-b", "side");
      writeFileSync(join(repo, "hello.txt"), "side\n");
      g("commit", "-q", "-am", "side");
      const side = g("rev-parse", "HEAD");
      g("checkout", "-q", "main");
      const gitRecipe = (srcrev: string) =>
        write(
          "meta-f/recipes/gsrc_1.0.bb",
          `SRC_URI = "git://${repo};protocol=file;branch=main"\nSRCREV = "${srcrev}"\nS = "\${WORKDIR}/git"\ndo_compile() {\n\tcp \${S}/hello.txt \${WORKDIR}/result.txt\n}\n`,
        );
      gitRecipe(first);
      const pinned = await kiln(["gsrc"]);
      expect(pinned.code, pinned.out).toBe(0);
      expect(result()).toBe("first\n");
      expect(existsSync(join(root, "build/downloads/git2", `${repo.replace(/^\//, "").replace(/\//g, ".")}`, "HEAD"))).toBe(true);

      // BB_GENERATE_MIRROR_TARBALLS: the clone as one tarball in DL_DIR, for mirrors
      const tarball = join(root, "build/downloads", `git2_${repo.replace(/^\//, "").replace(/\//g, ".")}.tar.gz`);
      expect(existsSync(tarball)).toBe(false);
      rmSync(join(root, "build", "tmp"), { recursive: true, force: true });
      rmSync(join(root, "build", "downloads"), { recursive: true, force: true });
      expect((await kiln(["gsrc"], `BB_GENERATE_MIRROR_TARBALLS = "1"`)).code).toBe(0);
      expect(execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" })).toMatch(/^\.\/HEAD$/m);
      // -c cleanall removes the clone and the mirror tarball (as bitbake's Git.clean); the next build clones again
      const clone = join(root, "build/downloads/git2", `${repo.replace(/^\//, "").replace(/\//g, ".")}`);
      const cleaned = await kiln(["-c", "cleanall", "gsrc"]);
      expect(cleaned.code, cleaned.out).toBe(0);
      expect(existsSync(clone) || existsSync(tarball)).toBe(false);
      expect((await kiln(["gsrc"])).code).toBe(0);
      expect(existsSync(join(clone, "HEAD"))).toBe(true);

      rmSync(join(root, "build", "tmp"), { recursive: true, force: true });
      gitRecipe("${AUTOREV}");
      const auto = await kiln(["gsrc"]);
      expect(auto.code, auto.out).toBe(0);
      expect(result()).toBe("second\n");

      // AUTOREV is in do_fetch's hash: a new commit upstream reruns the build without any wiping
      writeFileSync(join(repo, "hello.txt"), "third\n");
      g("commit", "-q", "-am", "third");
      const moved = await kiln(["gsrc"]);
      expect(moved.code, moved.out).toBe(0);
      expect(result()).toBe("third\n");
      expect((await kiln(["-n", "gsrc"])).out).toMatch(/0 would run/);

      gitRecipe(side);
      const off = await kiln(["gsrc"]);
      expect(off.code).toBe(1);
      expect(off.out).toContain(`revision ${side} is not on branch main`);
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  }, 30_000);

  it.each([
    ["a .deb (its data member)", "hello_1.0_all.deb", "usr/share/hello/hello.txt", "from a deb\n"],
    ["a .zip", "src.zip", "src-1.0/hello.txt", "hello from a zip\n"],
  ])("unpacks %s into WORKDIR", async (_what, file, member, content) => {
    write(
      "meta-f/recipes/pkg_1.0.bb",
      `SRC_URI = "http://127.0.0.1:${port}/${file}"\nSRC_URI[sha256sum] = "${sha(files.get(`/${file}`) as Buffer)}"\ndo_compile() {\n\tcp \${WORKDIR}/${member} \${WORKDIR}/result.txt\n}\n`,
    );
    const r = await kiln(["pkg"]);
    expect(r.code, r.out).toBe(0);
    expect(result()).toBe(content);
  });

  it.each(["evil_1.0_all.deb", "evil.zip"])("refuses %s whose member escapes WORKDIR", async (file) => {
    write("meta-f/recipes/pkg_1.0.bb", `SRC_URI = "http://127.0.0.1:${port}/${file}"\nSRC_URI[sha256sum] = "${sha(files.get(`/${file}`) as Buffer)}"\n`);
    const r = await kiln(["pkg"]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/member '(\.\/)?\.\.\/(\.\.\/)?escaped\.txt' escapes its directory/);
  });

  it("a download cut short is resumed with a Range request by the next build", async () => {
    ranges.length = 0;
    recipe({ upstream: `http://127.0.0.1:${port}/ranged/src-1.0.tar.gz` });
    const first = await kiln(["src"]);
    expect(first.code).toBe(1);
    const half = (files.get("/src-1.0.tar.gz") as Buffer).length >> 1;
    expect(existsSync(join(root, "build/downloads/src-1.0.tar.gz.part"))).toBe(true);
    const second = await kiln(["src"]);
    expect(second.code, second.out).toBe(0);
    expect(ranges).toEqual(["", `bytes=${half}-`]);
    expect(result()).toBe("hello patched world\n");
  });

  it("file:// sources are found in FILESOVERRIDES subdirectories first (files/<machine>/...), and SRC_URI[<name>.sha256sum] checks a named entry", async () => {
    write(
      "meta-f/recipes/named_1.0.bb",
      `SRC_URI = "http://127.0.0.1:${port}/src-1.0.tar.gz;name=tarball file://note.txt"\nSRC_URI[tarball.sha256sum] = "${sha(files.get("/src-1.0.tar.gz") as Buffer)}"\nS = "\${WORKDIR}/src-1.0"\ndo_compile() {\n\tcat \${WORKDIR}/note.txt > \${WORKDIR}/result.txt\n}\n`,
    );
    write("meta-f/recipes/files/note.txt", "generic\n");
    write("meta-f/recipes/files/m1/note.txt", "for machine m1\n");
    const r = await kiln(["named"]);
    expect(r.code, r.out).toBe(0);
    expect(result()).toBe("for machine m1\n");
  });

  it("a missing file:// source is an error naming the places searched", async () => {
    recipe();
    rmSync(join(root, "meta-f/recipes/src/fix.patch"));
    const r = await kiln(["src"]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/Unable to find file file:\/\/fix\.patch anywhere; searched: .*meta-f\/recipes\/src/);
  });
});
