/** .deb files written by kiln, checked by the real tools: dpkg-deb and dpkg. */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fieldValue, type Compression as DebCompression } from "@kiln/package";
import { writeDeb, type DebSpec } from "../src/index.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "kiln-deb-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const put = (rel: string, text: string, mode = 0o644) => {
  const p = join(dir, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text);
  chmodSync(p, mode);
};

function spec(name = "hello", extra: Partial<DebSpec> = {}): DebSpec {
  put(`${name}-root/usr/bin/${name}`, `#!/bin/sh\necho hello\n`, 0o755);
  put(`${name}-root/etc/${name}.conf`, "greeting=hello\n");
  return {
    control: [
      ["Package", name],
      ["Version", "1:2.12-r0"],
      ["Architecture", "all"],
      ["Maintainer", "kiln <kiln@localhost>"],
      ["Section", "utils"],
      ["Priority", "optional"],
      ["Description", "says hello\nA longer description.\n\nWith a paragraph."],
    ],
    root: join(dir, `${name}-root`),
    conffiles: [`/etc/${name}.conf`],
    mtime: 1_700_000_000,
    ...extra,
  };
}
const dpkgDeb = (...args: string[]) => execFileSync("dpkg-deb", args, { encoding: "utf8" });

describe("writeDeb", () => {
  it.each(["xz", "gz", "zst"] as DebCompression[])("writes a package dpkg-deb reads (%s): fields, files owned by root, conffiles, scripts", async (compression) => {
    const out = join(dir, "hello.deb");
    await writeDeb({ ...spec(), compression, scripts: { postinst: "echo configured" } }, out);
    const info = dpkgDeb("--info", out);
    expect(info).toMatch(/^ Package: hello$/m);
    expect(info).toMatch(/^ Version: 1:2\.12-r0$/m);
    expect(info).toMatch(/^ Installed-Size: 1$/m);
    expect(info).toMatch(/^  With a paragraph\.$/m);
    expect(info).toMatch(/postinst/);
    const contents = dpkgDeb("--contents", out);
    expect(contents).toMatch(/^-rwxr-xr-x root\/root\s+\d+ 2023-11-14 \d\d:\d\d \.\/usr\/bin\/hello$/m);
    expect(contents).toMatch(/\.\/etc\/hello\.conf$/m);
    expect(dpkgDeb("--field", out, "Package", "Architecture")).toBe("Package: hello\nArchitecture: all\n");
    const control = join(dir, "control");
    execFileSync("dpkg-deb", ["--control", out, control]);
    expect(readFileSync(join(control, "conffiles"), "utf8")).toBe("/etc/hello.conf\n");
    expect(readFileSync(join(control, "md5sums"), "utf8")).toMatch(/^[0-9a-f]{32} {2}usr\/bin\/hello$/m);
  });

  it("is byte-identical for the same input", async () => {
    const a = join(dir, "a.deb");
    const b = join(dir, "b.deb");
    await writeDeb(spec(), a);
    await writeDeb(spec(), b);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
  });

  it("installs with dpkg --root, dependencies in order", async () => {
    const lib = join(dir, "libgreet.deb");
    const app = join(dir, "greeter.deb");
    await writeDeb({ ...spec("libgreet"), control: [...spec("libgreet").control.filter(([k]) => k !== "Version"), ["Version", "1.0"]] }, lib);
    await writeDeb({ ...spec("greeter"), control: [...spec("greeter").control, ["Depends", "libgreet (>= 1.0)"]] }, app);
    const root = join(dir, "rootfs");
    for (const d of ["var/lib/dpkg/info", "var/lib/dpkg/updates"]) mkdirSync(join(root, d), { recursive: true });
    writeFileSync(join(root, "var/lib/dpkg/status"), "");
    const dpkg = (...args: string[]) => execFileSync("dpkg", [`--root=${root}`, "--force-script-chrootless", "--force-not-root", "--log=/dev/null", ...args], { encoding: "utf8", stdio: "pipe" });
    // the dependency is refused until its provider is there
    expect(() => dpkg("-i", app)).toThrow();
    dpkg("-i", lib);
    dpkg("-i", app);
    expect(readFileSync(join(root, "usr/bin/greeter"), "utf8")).toContain("echo hello");
    expect(dpkg("--status", "greeter")).toMatch(/^Status: install ok installed$/m);
  });

  it("formats multi-line field values as the control format wants", () => {
    expect(fieldValue("short\nline two\n\nafter blank")).toBe("short\n line two\n .\n after blank");
  });
});
