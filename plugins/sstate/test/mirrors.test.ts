/**
 * SSTATE_MIRRORS: a second "machine" (a fresh build directory elsewhere, empty
 * SSTATE_DIR) restores from the first build's shared state over HTTP on 127.0.0.1
 * or from a file:// mirror; a broken mirror makes it build for real.
 */
import { createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseMirrors, mirrorUrls } from "../src/mirrors.js";
import { build, writeLayer } from "./layer.js";

let first: string;
let server: Server;
let port: number;
let mode: "serve" | "404" | "500" | "corrupt" | "hang" = "serve";
const requests: string[] = [];

function serve(dir: string): Promise<Server> {
  const s = createServer((req, res) => {
    const path = join(dir, decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname));
    requests.push(`${req.method} ${req.url}`);
    if (mode === "hang") return; // never answers
    if (mode === "404" || !path.startsWith(dir) || !existsSync(path) || !statSync(path).isFile()) {
      res.writeHead(mode === "500" ? 500 : 404).end();
      return;
    }
    if (mode === "500") {
      res.writeHead(500).end();
      return;
    }
    res.writeHead(200, { "content-length": mode === "corrupt" && !path.endsWith(".sha256") ? 5 : statSync(path).size });
    if (req.method === "HEAD") res.end();
    else if (mode === "corrupt" && !path.endsWith(".sha256")) res.end("bogus");
    else createReadStream(path).pipe(res);
  });
  return new Promise((resolve) => s.listen(0, "127.0.0.1", () => resolve(s)));
}

beforeAll(async () => {
  first = mkdtempSync(join(tmpdir(), "kiln-sstate-first-"));
  writeLayer(first);
  const r = await build(first);
  expect(r.done.failed).toBe(0);
  server = await serve(join(first, "build", "sstate-cache"));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  if (!process.env.KILN_KEEP_TMP) rmSync(first, { recursive: true, force: true });
});

function secondMachine(mirrors: string, extra = ""): string {
  const root = mkdtempSync(join(tmpdir(), "kiln-sstate-second-"));
  writeLayer(root, `SSTATE_MIRRORS = "${mirrors}"\n${extra}`);
  return root;
}

const cached = (root: string) =>
  existsSync(join(root, "build", "sstate-cache"))
    ? readdirSync(join(root, "build", "sstate-cache"), { recursive: true }).map(String).filter((f) => f.endsWith(".tar.zst")).length
    : 0;

describe("SSTATE_MIRRORS", () => {
  it("parses REGEX URL pairs (also `\\n`-separated) and puts the object path in place of PATH", () => {
    const m = parseMirrors("file://.* http://127.0.0.1:1/sstate/PATH \\n file://nomatch.* file:///elsewhere/PATH");
    expect(m).toHaveLength(2);
    expect(mirrorUrls(m, "ab/sstate:x:1.0:ab12_populate_sysroot.tar.zst")).toEqual(["http://127.0.0.1:1/sstate/ab/sstate%3Ax%3A1.0%3Aab12_populate_sysroot.tar.zst"]);
  });

  it("restores everything from an HTTP mirror on another machine: no real task runs, objects are cached locally", async () => {
    mode = "serve";
    const root = secondMachine(`file://.* http://127.0.0.1:${port}/PATH`);
    try {
      const r = await build(root);
      expect(r.done.failed, JSON.stringify(r.failed)).toBe(0);
      expect(r.started).toEqual(["app:do_populate_sysroot_setscene", "lib:do_populate_sysroot_setscene"]);
      expect(readFileSync(join(root, "build/tmp/shared-sysroot/usr/share/app/app.txt"), "utf8")).toBe(
        readFileSync(join(first, "build/tmp/shared-sysroot/usr/share/app/app.txt"), "utf8"),
      );
      expect(cached(root)).toBe(2);
      expect(requests.some((q) => q.startsWith("HEAD "))).toBe(true);
      // relocation: the restored script names this machine's sysroot, not the first one's
      const where = join(root, "build/tmp/shared-sysroot/usr/bin/where-lib");
      expect(execFileSync(where, { encoding: "utf8" })).toBe(`${join(root, "build/tmp/shared-sysroot/usr/bin")}\n`);
      expect(readFileSync(join(first, "build/tmp/shared-sysroot/usr/bin/where-lib"), "utf8")).toContain(join(first, "build/tmp"));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("restores from a file:// mirror", async () => {
    const root = secondMachine(`file://.* file://${join(first, "build", "sstate-cache")}/PATH`);
    try {
      const r = await build(root);
      expect(r.started).toEqual(["app:do_populate_sysroot_setscene", "lib:do_populate_sysroot_setscene"]);
      expect(cached(root)).toBe(2);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it.each(["404", "500", "corrupt", "hang"] as const)("a mirror answering %s is not used: the build runs for real and caches nothing bad", async (m) => {
    mode = m;
    const root = secondMachine(`file://.* http://127.0.0.1:${port}/PATH`, `SSTATE_MIRROR_TIMEOUT = "1"`);
    try {
      const r = await build(root);
      expect(r.done.failed, JSON.stringify(r.failed)).toBe(0);
      expect(r.started).toContain("lib:do_compile");
      expect(r.started).toContain("app:do_compile");
      // the objects it has now are the ones it built, and they verify
      for (const f of readdirSync(join(root, "build", "sstate-cache"), { recursive: true }).map(String).filter((x) => x.endsWith(".tar.zst"))) {
        const p = join(root, "build", "sstate-cache", f);
        expect(readFileSync(`${p}.sha256`, "utf8").length).toBe(65);
      }
    } finally {
      mode = "serve";
      rmSync(root, { recursive: true, force: true });
    }
  });
});

