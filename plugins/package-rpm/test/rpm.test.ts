/** .rpm files written by kiln, checked by the real tools: rpm, rpm2cpio and cpio. */
import { execFileSync } from "node:child_process";
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { rpmVersion, writeRpm, type RpmCompression, type RpmSpec } from "../src/index.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "kiln-rpm-"));
});
afterEach(() => {
  if (!process.env.KILN_KEEP_TMP) rmSync(dir, { recursive: true, force: true });
});

const put = (rel: string, text: string, mode = 0o644) => {
  const p = join(dir, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text);
  chmodSync(p, mode);
};

/** A package `name` with a program, a symlink to it and a config file. */
function spec(name = "hello", extra: Partial<RpmSpec> = {}): RpmSpec {
  put(`${name}-root/usr/bin/${name}`, "#!/bin/sh\necho hello\n", 0o755);
  put(`${name}-root/etc/${name}.conf`, "greeting=hello\n");
  symlinkSync(name, join(dir, `${name}-root/usr/bin/${name}-link`));
  return {
    name,
    version: "2.12",
    release: "r0",
    arch: "x86_64",
    summary: "says hello",
    description: "A longer description.\n\nWith a paragraph.",
    license: "GPL-3.0-or-later",
    url: "http://127.0.0.1/hello",
    buildTime: 1_700_000_000,
    root: join(dir, `${name}-root`),
    conffiles: [`/etc/${name}.conf`],
    ...extra,
  };
}

const rpm = (...args: string[]) => execFileSync("rpm", args, { encoding: "utf8", stdio: "pipe" });
/** rpm's exit status and all it printed. */
const rpmStatus = (...args: string[]) => {
  try {
    return { status: 0, output: rpm(...args) };
  } catch (e) {
    const err = e as { status: number; stdout: string; stderr: string };
    return { status: err.status, output: err.stdout + err.stderr };
  }
};

/** Every path under `root` with what identifies it: type, mode and content or target. */
function tree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = join(rel, name);
      const st = lstatSync(join(root, r));
      if (st.isSymbolicLink()) out[r] = `link ${readlinkSync(join(root, r))}`;
      else if (st.isDirectory()) {
        out[r] = `dir ${(st.mode & 0o7777).toString(8)}`;
        walk(r);
      } else out[r] = `file ${(st.mode & 0o7777).toString(8)} ${readFileSync(join(root, r), "utf8")}`;
    }
  };
  walk("");
  return out;
}

describe("writeRpm", () => {
  it.each(["xz", "zstd"] as RpmCompression[])("writes a package rpm reads and verifies (%s payload)", async (compression) => {
    const out = join(dir, "hello.rpm");
    await writeRpm(
      {
        ...spec(),
        compression,
        requires: [{ name: "libc6", flags: ">=", version: "2.31" }, { name: "busybox" }],
        provides: [{ name: "greeter", flags: "=", version: "1.0" }],
        conflicts: [{ name: "hello-classic", flags: "<", version: "2.0" }],
        obsoletes: [{ name: "hello-old" }],
        recommends: [{ name: "hello-doc" }],
        scripts: { postin: "echo configured" },
      },
      out,
    );
    const info = rpm("-qpi", out);
    expect(info).toMatch(/^Name\s+: hello$/m);
    expect(info).toMatch(/^Version\s+: 2\.12$/m);
    expect(info).toMatch(/^Release\s+: r0$/m);
    expect(info).toMatch(/^Architecture: x86_64$/m);
    expect(info).toMatch(/^License\s+: GPL-3\.0-or-later$/m);
    expect(info).toMatch(/^Build Host\s+: kiln$/m);
    expect(info).toMatch(/^Summary\s+: says hello$/m);
    expect(info).toMatch(/^Description :\nA longer description\.\n\nWith a paragraph\.$/m);
    expect(rpm("-qpl", out).split("\n")).toEqual(["/etc", "/etc/hello.conf", "/usr", "/usr/bin", "/usr/bin/hello", "/usr/bin/hello-link", ""]);

    const requires = rpm("-qp", "--requires", out);
    expect(requires).toMatch(/^libc6 >= 2\.31$/m);
    expect(requires).toMatch(/^busybox$/m);
    expect(requires).toMatch(/^\/bin\/sh$/m);
    expect(requires).toMatch(new RegExp(`^rpmlib\\(PayloadIs${compression === "xz" ? "Xz" : "Zstd"}\\) <= `, "m"));
    expect(rpm("-qp", "--provides", out)).toBe("greeter = 1.0\nhello = 2.12-r0\n");
    expect(rpm("-qp", "--conflicts", out)).toBe("hello-classic < 2.0\n");
    expect(rpm("-qp", "--obsoletes", out)).toBe("hello-old\n");
    expect(rpm("-qp", "--recommends", out)).toBe("hello-doc\n");
    expect(rpm("-qp", "--scripts", out)).toBe("postinstall scriptlet (using /bin/sh):\necho configured\n");
    expect(rpm("-qp", "--qf", "[%{FILENAMES} %{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILEFLAGS:fflags} %{FILELINKTOS}\n]", out)).toBe(
      [
        "/etc drwxr-xr-x root:root  ",
        "/etc/hello.conf -rw-r--r-- root:root cn ",
        "/usr drwxr-xr-x root:root  ",
        "/usr/bin drwxr-xr-x root:root  ",
        "/usr/bin/hello -rwxr-xr-x root:root  ",
        "/usr/bin/hello-link lrwxrwxrwx root:root  hello",
        "",
      ].join("\n"),
    );
    expect(rpm("-qp", "--qf", "%{PAYLOADCOMPRESSOR} %{FILEMTIMES}", out)).toBe(`${compression} 1700000000`);

    expect(rpm("-K", out)).toBe(`${out}: digests OK\n`);
    const verbose = rpm("-Kv", out);
    for (const digest of ["Header SHA256", "Header SHA1", "Payload SHA256", "MD5"]) expect(verbose).toContain(`${digest} digest: OK`);

    const extracted = join(dir, "extracted");
    mkdirSync(extracted);
    expect(execFileSync("sh", ["-c", 'rpm2cpio "$1" | cpio -t --quiet', "sh", out], { encoding: "utf8" })).toBe(
      "./etc\n./etc/hello.conf\n./usr\n./usr/bin\n./usr/bin/hello\n./usr/bin/hello-link\n",
    );
    execFileSync("sh", ["-c", 'rpm2cpio "$1" | cpio -idm --quiet', "sh", out], { cwd: extracted });
    expect(tree(extracted)).toEqual(tree(join(dir, "hello-root")));
    expect(lstatSync(join(extracted, "usr/bin/hello")).mtimeMs).toBe(1_700_000_000_000);
  });

  it("is byte-identical for the same input", async () => {
    const a = join(dir, "a.rpm");
    const b = join(dir, "b.rpm");
    await writeRpm(spec(), a);
    rmSync(join(dir, "hello-root"), { recursive: true });
    await writeRpm(spec(), b);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
  });

  it("writes epochs and '~' versions rpm sorts before the release", async () => {
    const out = join(dir, "hello.rpm");
    await writeRpm(spec("hello", { epoch: 1, version: "2.0~rc1" }), out);
    expect(rpm("-qp", "--qf", "%{EPOCH}:%{VERSION}-%{RELEASE}", out)).toBe("1:2.0~rc1-r0");
    expect(rpm("-qp", "--provides", out)).toBe("hello = 1:2.0~rc1-r0\n");
    expect(rpm("-qp", "--requires", out)).toMatch(/^rpmlib\(TildeInVersions\) <= 4\.10\.0-1$/m);
    const plain = join(dir, "plain.rpm");
    await writeRpm(spec("plain"), plain);
    expect(rpm("-qp", "--qf", "%{EPOCH}", plain)).toBe("(none)");
  });

  it("fails rpm -K when a byte of the payload or of the header changes", async () => {
    const out = join(dir, "hello.rpm");
    await writeRpm(spec(), out);
    const good = readFileSync(out);
    const flipped = (at: number) => {
      const bad = Buffer.from(good);
      bad[at] ^= 0xff;
      writeFileSync(out, bad);
      return rpmStatus("-Kv", out);
    };
    const payload = flipped(good.length - 40);
    expect(payload.status).not.toBe(0);
    expect(payload.output).toContain("Payload SHA256 digest: BAD");
    const header = flipped(good.indexOf("says hello"));
    expect(header.status).not.toBe(0);
    expect(header.output).toContain("Header SHA256 digest: BAD");
    expect(header.output).toContain("Payload SHA256 digest: OK");
    expect(rpmStatus("-K", out).output).toBe(`${out}: DIGESTS NOT OK\n`);
  });

  it.skipIf(process.getuid?.() !== 0)("installs into a fresh root with rpm --root, dependencies resolved", async () => {
    const lib = join(dir, "libgreet.rpm");
    const app = join(dir, "greeter.rpm");
    await writeRpm(spec("libgreet", { version: "1.0" }), lib);
    await writeRpm(spec("greeter", { requires: [{ name: "libgreet", flags: ">=", version: "1.0" }] }), app);
    const root = join(dir, "rootfs");
    mkdirSync(root);
    const inRoot = (...args: string[]) => rpmStatus("--root", root, "--dbpath", "/var/lib/rpm", ...args);
    expect(inRoot("--initdb").status).toBe(0);
    // the dependency is refused until its provider is there
    expect(inRoot("-i", "--nosignature", "--ignorearch", app).output).toContain("libgreet >= 1.0 is needed by greeter-2.12-r0.x86_64");
    expect(inRoot("-i", "--nosignature", "--ignorearch", lib).status).toBe(0);
    expect(inRoot("-i", "--nosignature", "--ignorearch", app).status).toBe(0);
    expect(inRoot("-qa", "--qf", "%{NAME}\n").output.split("\n").sort()).toEqual(["", "greeter", "libgreet"]);
    expect(readFileSync(join(root, "usr/bin/greeter"), "utf8")).toContain("echo hello");
    expect(readlinkSync(join(root, "usr/bin/greeter-link"))).toBe("greeter");
    // installed files match the header: digests, sizes, modes, owners, mtimes, link targets
    expect(inRoot("-V", "greeter", "libgreet")).toEqual({ status: 0, output: "" });
    expect(inRoot("-e", "greeter").status).toBe(0);
    expect(() => lstatSync(join(root, "usr/bin/greeter"))).toThrow();
  });

  it("writes a package without files", async () => {
    const out = join(dir, "meta.rpm");
    mkdirSync(join(dir, "empty"));
    await writeRpm({ ...spec("meta"), root: join(dir, "empty"), conffiles: [], requires: [{ name: "hello" }] }, out);
    expect(rpm("-K", out)).toBe(`${out}: digests OK\n`);
    expect(rpm("-qpl", out)).toBe("(contains no files)\n");
  });

  it("rejects what a package cannot hold, naming it, and leaves no files behind", async () => {
    const s = spec();
    execFileSync("mkfifo", [join(s.root, "usr/bin/fifo")]);
    const out = join(dir, "out", "hello.rpm");
    mkdirSync(dirname(out));
    await expect(writeRpm(s, out)).rejects.toMatchObject({ code: "USAGE_ERROR", message: expect.stringContaining(join(s.root, "usr/bin/fifo")) });
    rmSync(join(s.root, "usr/bin/fifo"));
    await expect(writeRpm({ ...s, conffiles: ["/etc/missing.conf"] }, out)).rejects.toMatchObject({ code: "USAGE_ERROR" });
    await expect(writeRpm({ ...s, version: "1.0-1" }, out)).rejects.toMatchObject({ code: "USAGE_ERROR" });
    await expect(writeRpm({ ...s, requires: [{ name: "libc6", version: "2.31" }] }, out)).rejects.toMatchObject({ code: "USAGE_ERROR" });
    // a failure while the payload is being written (no zstd to run) removes the temp files
    const path = process.env.PATH;
    process.env.PATH = join(dir, "no-tools");
    try {
      await expect(writeRpm({ ...s, compression: "zstd" }, out)).rejects.toThrow(/zstd/);
    } finally {
      process.env.PATH = path;
    }
    expect(readdirSync(dirname(out))).toEqual([]);
  });
});

describe("rpmVersion", () => {
  it.each([
    ["1.2.3", "r0", "", { version: "1.2.3", release: "r0" }],
    ["1.2.3", "r0", undefined, { version: "1.2.3", release: "r0" }],
    ["2.0-rc1", "r1-x", "", { version: "2.0+rc1", release: "r1+x" }],
    ["1.0~beta2", "r0", "2", { epoch: 2, version: "1.0~beta2", release: "r0" }],
    ["1.0+git0+abc", "r0", "0", { epoch: 0, version: "1.0+git0+abc", release: "r0" }],
  ])("PV %s PR %s PE %s", (pv, pr, pe, expected) => {
    expect(rpmVersion(pv, pr, pe)).toEqual(expected);
  });

  it("rejects a PE that is not a number", () => {
    expect(() => rpmVersion("1.0", "r0", "x")).toThrow(expect.objectContaining({ code: "USAGE_ERROR" }));
  });
});
