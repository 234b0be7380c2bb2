/**
 * The host's apt sources in both formats, read from fixture roots: apt's file order,
 * what is skipped (deb-src, disabled stanzas, comments, odd file names) and the
 * defaults kiln takes from the first source.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  debianArchFromNode,
  hostArchitecture,
  hostDebianDefaults,
  parseDeb822Sources,
  parseOneLineSources,
  readAptSources,
} from "../src/apt-sources.js";

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "kiln-apt-sources-"));
});
afterEach(() => {
  if (!process.env.KILN_KEEP_TMP) rmSync(root, { recursive: true, force: true });
});

const put = (rel: string, text: string) => {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text);
  return p;
};

const DEB822 = `# Main archive
Types: deb deb-src
URIs: http://127.0.0.1/deb/debian
Suites: bookworm bookworm-updates
Components: main contrib
 non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://127.0.0.1/src/debian
Suites: bookworm
Components: main

Types: deb
# a comment inside a stanza
URIs: http://127.0.0.1/off/debian
Suites: bookworm
Components: main
Enabled: no

types: deb
uris: http://127.0.0.1/sec/debian-security http://127.0.0.1:3142/debian-security
suites: bookworm-security
components: main
architectures: amd64 arm64
signed-by:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mDMEZxyz
 -----END PGP PUBLIC KEY BLOCK-----
`;

describe("parseDeb822Sources", () => {
  it("reads deb stanzas, one source per URI", () => {
    expect(parseDeb822Sources(DEB822, "/x/debian.sources")).toEqual([
      {
        uri: "http://127.0.0.1/deb/debian",
        suites: ["bookworm", "bookworm-updates"],
        components: ["main", "contrib", "non-free-firmware"],
        signedBy: "/usr/share/keyrings/debian-archive-keyring.gpg",
        file: "/x/debian.sources",
      },
      {
        uri: "http://127.0.0.1/sec/debian-security",
        suites: ["bookworm-security"],
        components: ["main"],
        architectures: ["amd64", "arm64"],
        file: "/x/debian.sources",
      },
      {
        uri: "http://127.0.0.1:3142/debian-security",
        suites: ["bookworm-security"],
        components: ["main"],
        architectures: ["amd64", "arm64"],
        file: "/x/debian.sources",
      },
    ]);
  });

  it("handles CRLF and stanzas separated by blank lines with spaces", () => {
    const text = "Types: deb\r\nURIs: http://127.0.0.1/a/d\r\nSuites: sid\r\nComponents: main\r\n   \r\nTypes: deb\r\nURIs: http://127.0.0.1/b/d\r\nSuites: sid/\r\n";
    expect(parseDeb822Sources(text, "f").map((s) => [s.uri, s.suites, s.components])).toEqual([
      ["http://127.0.0.1/a/d", ["sid"], ["main"]],
      ["http://127.0.0.1/b/d", ["sid/"], []],
    ]);
  });
});

describe("parseOneLineSources", () => {
  it("reads deb lines with options, skipping deb-src and comments", () => {
    const text = [
      "# sources",
      "deb [arch=amd64,i386 signed-by=/etc/apt/keyrings/x.gpg] http://127.0.0.1/deb/debian bookworm main contrib # trailing",
      "deb-src http://127.0.0.1/deb/debian bookworm main",
      "#deb http://127.0.0.1/old/debian buster main",
      "",
      "deb [ trusted=yes ] http://127.0.0.1/repo ./",
      "deb http://127.0.0.1/deb/debian-security bookworm-security main",
      "deb http://127.0.0.1/broken/",
    ].join("\n");
    expect(parseOneLineSources(text, "/etc/apt/sources.list")).toEqual([
      {
        uri: "http://127.0.0.1/deb/debian",
        suites: ["bookworm"],
        components: ["main", "contrib"],
        architectures: ["amd64", "i386"],
        signedBy: "/etc/apt/keyrings/x.gpg",
        file: "/etc/apt/sources.list",
      },
      { uri: "http://127.0.0.1/repo", suites: ["./"], components: [], file: "/etc/apt/sources.list" },
      {
        uri: "http://127.0.0.1/deb/debian-security",
        suites: ["bookworm-security"],
        components: ["main"],
        file: "/etc/apt/sources.list",
      },
    ]);
  });
});

describe("readAptSources", () => {
  it("reads nothing from an empty root", () => {
    expect(readAptSources(root)).toEqual([]);
    expect(hostDebianDefaults(root)).toEqual({});
  });

  it("follows apt's order: sources.list, then sources.list.d by name", () => {
    put("etc/apt/sources.list", "deb http://127.0.0.1/main/debian sid main\n");
    put("etc/apt/sources.list.d/b.sources", "Types: deb\nURIs: http://127.0.0.1/b/debian\nSuites: sid\nComponents: main\n");
    put("etc/apt/sources.list.d/a.list", "deb http://127.0.0.1/a/debian sid main\n");
    put("etc/apt/sources.list.d/c.list", "deb http://127.0.0.1/c/debian sid main\n");
    // apt ignores these names.
    put("etc/apt/sources.list.d/c.list.save", "deb http://127.0.0.1/save/debian sid main\n");
    put("etc/apt/sources.list.d/bad name.list", "deb http://127.0.0.1/space/debian sid main\n");
    put("etc/apt/sources.list.d/d.sources.disabled", "Types: deb\nURIs: http://127.0.0.1/d/debian\nSuites: sid\n");
    const got = readAptSources(root);
    expect(got.map((s) => s.uri)).toEqual([
      "http://127.0.0.1/main/debian",
      "http://127.0.0.1/a/debian",
      "http://127.0.0.1/b/debian",
      "http://127.0.0.1/c/debian",
    ]);
    expect(got[2].file).toBe(join(root, "etc/apt/sources.list.d/b.sources"));
  });

  it("takes defaults from the first source", () => {
    put("etc/apt/sources.list.d/debian.sources", DEB822);
    expect(hostDebianDefaults(root)).toEqual({
      mirror: "http://127.0.0.1/deb/debian",
      suite: "bookworm",
      components: ["main", "contrib", "non-free-firmware"],
      keyring: "/usr/share/keyrings/debian-archive-keyring.gpg",
    });
  });

  it("falls back to the archive keyring under root, skipping cdrom sources", () => {
    put("etc/apt/sources.list", "deb cdrom:[Debian 12]/ bookworm main\ndeb http://127.0.0.1/deb/debian bookworm main\n");
    expect(hostDebianDefaults(root)).toEqual({ mirror: "http://127.0.0.1/deb/debian", suite: "bookworm", components: ["main"] });
    put("usr/share/keyrings/debian-archive-keyring.gpg", "");
    expect(hostDebianDefaults(root).keyring).toBe(join(root, "usr/share/keyrings/debian-archive-keyring.gpg"));
  });
});

describe("host architecture", () => {
  it("maps Node's architectures to Debian's", () => {
    expect(debianArchFromNode("x64")).toBe("amd64");
    expect(debianArchFromNode("arm64")).toBe("arm64");
    expect(debianArchFromNode("ia32")).toBe("i386");
    expect(debianArchFromNode("arm")).toBe("armhf");
    expect(debianArchFromNode("s390x")).toBe("s390x");
    expect(debianArchFromNode("riscv64")).toBe("riscv64");
    expect(["ppc64el", "ppc64"]).toContain(debianArchFromNode("ppc64"));
  });

  it("answers for this host", () => {
    expect(hostArchitecture()).toMatch(/^[a-z0-9-]+$/);
    if (process.arch === "x64") expect(hostArchitecture()).toBe("amd64");
  });
});
