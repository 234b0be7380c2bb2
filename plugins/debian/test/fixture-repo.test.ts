/** The test fixture repository is a real apt repository: checked with gpgv, dpkg-deb, hashes and HTTP. */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { Readable } from "node:stream";
import tar from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAr } from "@kiln/core";
import { BASE_PACKAGES, badDeb, buildFixtureRepo, resignRelease, serveDirectory, type FixturePackage, type FixtureRepo } from "./fixture-repo.js";

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");

/** Stanzas of a Packages/control text as field maps (continuation lines joined with "\n"). */
function stanzas(text: string): Map<string, string>[] {
  return text
    .split(/\n\s*\n/)
    .filter((s) => s.trim())
    .map((s) => {
      const m = new Map<string, string>();
      let last = "";
      for (const line of s.split("\n")) {
        if (/^\s/.test(line)) m.set(last, `${m.get(last)}\n${line.trim()}`);
        else if (line) {
          const i = line.indexOf(":");
          last = line.slice(0, i);
          m.set(last, line.slice(i + 1).trim());
        }
      }
      return m;
    });
}

/** `MD5Sum:`/`SHA256:` lists of a Release file: path -> [hash, size]. */
function releaseList(release: string, field: "MD5Sum" | "SHA256"): Map<string, [string, number]> {
  const out = new Map<string, [string, number]>();
  const block = new RegExp(`^${field}:\\n((?: .*\\n?)*)`, "m").exec(release)?.[1] ?? "";
  for (const line of block.split("\n").filter(Boolean)) {
    const [hash, size, path] = line.trim().split(/\s+/);
    out.set(path, [hash, Number(size)]);
  }
  return out;
}

const gpgv = (keyring: string, ...files: string[]) => spawnSync("gpgv", ["--keyring", keyring, ...files], { encoding: "utf8" });

let dir: string;
let dir2: string;
let repo: FixtureRepo;
let dist: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kiln-fixrepo-"));
  dir2 = mkdtempSync(join(tmpdir(), "kiln-fixrepo2-"));
  repo = await buildFixtureRepo(dir, BASE_PACKAGES);
  dist = join(repo.root, "dists", repo.suite);
}, 60_000);
afterAll(() => {
  for (const d of [dir, dir2]) if (d) rmSync(d, { recursive: true, force: true });
});

describe("fixture repository", () => {
  it("has the layout and a deb per package", () => {
    expect(repo.suite).toBe("kiln-test");
    expect(repo.arch).toBe("amd64");
    expect(repo.components).toEqual(["main"]);
    expect(repo.debs.size).toBe(BASE_PACKAGES.length);
    for (const f of ["InRelease", "Release", "Release.gpg", "main/binary-amd64/Packages", "main/binary-amd64/Packages.xz", "main/binary-amd64/Packages.gz"]) {
      expect(statSync(join(dist, f)).isFile(), f).toBe(true);
    }
    expect(repo.debs.get("libc6_2.36-9+deb12u4_amd64")).toBe(join(repo.root, "pool/main/g/glibc/libc6_2.36-9+deb12u4_amd64.deb"));
    expect(repo.debs.get("libcrypt1_1:4.4.33-2_amd64")).toBe(join(repo.root, "pool/main/libx/libxcrypt/libcrypt1_4.4.33-2_amd64.deb"));
    expect(repo.debs.get("init-system-helpers_1.65.2_all")).toBe(join(repo.root, "pool/main/i/init-system-helpers/init-system-helpers_1.65.2_all.deb"));
    expect(repo.debs.get("bash_5.2.15-2+b2_amd64")).toBe(join(repo.root, "pool/main/b/bash/bash_5.2.15-2+b2_amd64.deb"));
  });

  it("InRelease and Release.gpg verify with the keyring, and not with the other one", () => {
    const ok = gpgv(repo.keyring, join(dist, "InRelease"));
    expect(ok.status, ok.stderr).toBe(0);
    const detached = gpgv(repo.keyring, join(dist, "Release.gpg"), join(dist, "Release"));
    expect(detached.status, detached.stderr).toBe(0);
    expect(gpgv(repo.otherKeyring, join(dist, "InRelease")).status).not.toBe(0);
    // the clearsigned text is the Release file
    const inrelease = readFileSync(join(dist, "InRelease"), "utf8");
    expect(inrelease).toMatch(/^-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n/);
    expect(inrelease).toContain(readFileSync(join(dist, "Release"), "utf8").trimEnd());
  });

  it("Release has the header fields and hashes of every Packages file", () => {
    const release = readFileSync(join(dist, "Release"), "utf8");
    const head = stanzas(release.split(/^MD5Sum:/m)[0])[0];
    expect(head.get("Suite")).toBe("kiln-test");
    expect(head.get("Codename")).toBe("kiln-test");
    expect(head.get("Architectures")).toBe("amd64");
    expect(head.get("Components")).toBe("main");
    expect(head.get("Date")).toBe("Sat, 01 Jun 2024 12:00:00 UTC");
    for (const field of ["MD5Sum", "SHA256"] as const) {
      const list = releaseList(release, field);
      expect([...list.keys()].sort()).toEqual(["main/binary-amd64/Packages", "main/binary-amd64/Packages.gz", "main/binary-amd64/Packages.xz"]);
      for (const [path, [hash, size]] of list) {
        const data = readFileSync(join(dist, path));
        expect(size, path).toBe(data.length);
        expect(hash, path).toBe(field === "SHA256" ? sha256(data) : md5(data));
      }
    }
    const plain = readFileSync(join(dist, "main/binary-amd64/Packages"));
    expect(gunzipSync(readFileSync(join(dist, "main/binary-amd64/Packages.gz")))).toEqual(plain);
    expect(execFileSync("xz", ["-dc", join(dist, "main/binary-amd64/Packages.xz")])).toEqual(plain);
  });

  it("Packages stanzas match the .debs: sizes, hashes, control fields; sorted by name", () => {
    const packages = stanzas(readFileSync(join(dist, "main/binary-amd64/Packages"), "utf8"));
    expect(packages).toHaveLength(BASE_PACKAGES.length);
    const names = packages.map((p) => p.get("Package") ?? "");
    expect(names).toEqual([...names].sort());
    for (const p of packages) {
      const deb = readFileSync(join(repo.root, p.get("Filename") ?? ""));
      expect(Number(p.get("Size")), p.get("Filename")).toBe(deb.length);
      expect(p.get("SHA256")).toBe(sha256(deb));
      expect(p.get("MD5sum")).toBe(md5(deb));
      expect(repo.debs.get(`${p.get("Package")}_${p.get("Version")}_${p.get("Architecture")}`)).toBe(join(repo.root, p.get("Filename") ?? ""));
    }
    const byKey = (name: string, version: string) => packages.find((p) => p.get("Package") === name && p.get("Version") === version);
    expect(byKey("libc6", "2.36-9+deb12u4")?.get("Multi-Arch")).toBe("same");
    expect(byKey("bash", "5.2.15-2+b2")?.get("Essential")).toBe("yes");
    expect(byKey("bash", "5.2.15-2+b2")?.get("Source")).toBe("bash (5.2.15-2)");
    expect(byKey("mawk", "1.3.4.20200120-3.1")?.get("Provides")).toBe("awk");
    expect(byKey("hello", "2.10-2")).toBeDefined();
    expect(byKey("hello", "2.10-3")).toBeDefined();
    expect(byKey("diffutils", "1:3.8-4")?.get("Filename")).toBe("pool/main/d/diffutils/diffutils_3.8-4_amd64.deb");

    // the stanza's control fields are the deb's control file, field for field
    for (const [name, version] of [["libc6", "2.36-9+deb12u4"], ["base-files", "12.4+deb12u5"], ["init-system-helpers", "1.65.2"]]) {
      const p = byKey(name, version);
      const control = stanzas(execFileSync("dpkg-deb", ["--field", join(repo.root, p?.get("Filename") ?? "")], { encoding: "utf8" }))[0];
      const indexOnly = new Set(["Filename", "Size", "MD5sum", "SHA256"]);
      expect(new Map([...(p ?? new Map<string, string>())].filter(([k]) => !indexOnly.has(k)))).toEqual(control);
    }
  });

  it("dpkg-deb reads the debs", () => {
    const info = execFileSync("dpkg-deb", ["--info", repo.debs.get("base-passwd_3.6.1_amd64") ?? ""], { encoding: "utf8" });
    expect(info).toMatch(/ Package: base-passwd\n/);
    expect(info).toMatch(/ postinst /);
    expect(info).toMatch(/ md5sums /);
    const baseFiles = repo.debs.get("base-files_12.4+deb12u5_amd64") ?? "";
    expect(execFileSync("dpkg-deb", ["--info", baseFiles], { encoding: "utf8" })).toMatch(/ Pre-Depends: awk\n/);
    const list = execFileSync("dpkg-deb", ["-c", baseFiles], { encoding: "utf8" });
    expect(list).toMatch(/\.\/etc\/os-release -> \.\.\/usr\/lib\/os-release/);
    expect(list).toMatch(/\.\/etc\/debian_version/);
    expect(execFileSync("dpkg-deb", ["--ctrl-tarfile", baseFiles]).length).toBeGreaterThan(0);
    const hello = repo.debs.get("hello_2.10-3_amd64") ?? "";
    expect(execFileSync("dpkg-deb", ["-c", hello], { encoding: "utf8" })).toMatch(/-rwxr-xr-x root\/root .* \.\/usr\/bin\/hello/);
    expect(execFileSync("dpkg-deb", ["--field", hello, "Version"], { encoding: "utf8" }).trim()).toBe("2.10-3");
  });

  it("serveDirectory serves files over HTTP on 127.0.0.1, 404s missing ones, refuses escapes", async () => {
    const server = await serveDirectory(repo.root);
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${server.url}/dists/kiln-test/InRelease`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(readFileSync(join(dist, "InRelease"), "utf8"));
      const head = await fetch(`${server.url}/dists/kiln-test/Release`, { method: "HEAD" });
      expect(head.status).toBe(200);
      expect(Number(head.headers.get("content-length"))).toBe(statSync(join(dist, "Release")).size);
      expect((await fetch(`${server.url}/dists/kiln-test/nothing-here`)).status).toBe(404);
      expect((await fetch(`${server.url}/dists/`)).status).toBe(404);
      expect((await fetch(`${server.url}/dists/kiln-test/InRelease`, { method: "POST" })).status).toBe(405);
      // fetch normalises "/../" itself: send raw paths with node:http
      const { request } = await import("node:http");
      const port = new URL(server.url).port;
      const rawPath = (path: string) =>
        new Promise<number>((ok, fail) => {
          const req = request({ host: "127.0.0.1", port, path }, (r) => {
            r.resume();
            ok(r.statusCode ?? 0);
          });
          req.on("error", fail);
          req.end();
        });
      expect(await rawPath("/../keys/keyring.gpg")).toBe(403);
      expect(await rawPath("/dists/../../keys/keyring.gpg")).toBe(403);
      expect(await rawPath("/%2e%2e/keys/keyring.gpg")).toBe(403);
      expect(await rawPath("/pool/main/g/glibc/libc6_2.36-9+deb12u4_amd64.deb")).toBe(200);
      expect(server.requests).toContain("/dists/kiln-test/InRelease");
      expect(server.requests).toContain("/../keys/keyring.gpg");
    } finally {
      await server.close();
    }
    await expect(fetch(`${server.url}/dists/kiln-test/InRelease`)).rejects.toThrow();
  });

  it("badDeb archives really contain the escaping members", async () => {
    const members = async (deb: string) => {
      const data = readAr(readFileSync(deb), deb).find((m) => m.name === "data.tar.gz");
      const names: string[] = [];
      const extract = tar.extract();
      const done = new Promise<void>((ok, fail) => {
        extract.on("entry", (h, stream, next) => {
          names.push(h.type === "symlink" ? `${h.name} -> ${h.linkname}` : h.name);
          stream.on("end", next);
          stream.resume();
        });
        extract.on("finish", ok);
        extract.on("error", fail);
      });
      Readable.from([gunzipSync(data?.data ?? Buffer.alloc(0))]).pipe(extract);
      await done;
      return names;
    };
    const expected = { dotdot: ["../evil"], absolute: ["/etc/evil"], "symlink-escape": ["./usr/x -> ../../../etc", "./usr/x/evil"] } as const;
    for (const kind of ["dotdot", "absolute", "symlink-escape"] as const) {
      const out = join(dir2, `evil-${kind}.deb`);
      await badDeb(out, kind);
      expect(await members(out)).toEqual(expect.arrayContaining([...expected[kind]]));
      expect(execFileSync("dpkg-deb", ["--field", out, "Package"], { encoding: "utf8" }).trim()).toBe(`evil-${kind}`);
      const listed = spawnSync("dpkg-deb", ["-c", out], { encoding: "utf8" });
      // dpkg-deb lists the member (tar may strip a leading "/" while listing), or refuses the archive
      if (listed.status === 0) expect(listed.stdout).toMatch(kind === "dotdot" ? /\.\.\/evil/ : kind === "absolute" ? /etc\/evil/ : /usr\/x -> \.\.\/\.\.\/\.\.\/etc[\s\S]*usr\/x\/evil/);
    }
  });

  it("resignRelease re-signs a tampered Release with the same key", async () => {
    const other = await buildFixtureRepo(join(dir2, "resign"), [{ name: "tiny", version: "1.0-1", arch: "all" } satisfies FixturePackage], { compress: ["gz"] });
    const odist = join(other.root, "dists", other.suite);
    expect(readFileSync(join(odist, "Release"), "utf8")).not.toMatch(/Packages\.xz/);
    await resignRelease(other, (t) => t.replace(/^Label: .*$/m, "Label: Tampered"));
    expect(readFileSync(join(odist, "Release"), "utf8")).toMatch(/^Label: Tampered$/m);
    expect(readFileSync(join(odist, "InRelease"), "utf8")).toMatch(/^Label: Tampered$/m);
    expect(gpgv(other.keyring, join(odist, "InRelease")).status).toBe(0);
    expect(gpgv(other.keyring, join(odist, "Release.gpg"), join(odist, "Release")).status).toBe(0);
    expect(gpgv(repo.keyring, join(odist, "InRelease")).status).not.toBe(0);
  }, 30_000);

  it("is deterministic: building again gives identical Packages files and debs", async () => {
    const again = await buildFixtureRepo(join(dir2, "again"), BASE_PACKAGES);
    for (const f of ["Packages", "Packages.xz", "Packages.gz"]) {
      const a = readFileSync(join(dist, "main/binary-amd64", f));
      const b = readFileSync(join(again.root, "dists", again.suite, "main/binary-amd64", f));
      expect(b.equals(a), f).toBe(true);
    }
    expect(readFileSync(join(again.root, "dists", again.suite, "Release"), "utf8")).toBe(readFileSync(join(dist, "Release"), "utf8"));
    // different throwaway keys each time
    expect(readFileSync(again.keyring).equals(readFileSync(repo.keyring))).toBe(false);
  }, 60_000);
});
