/** Packages index parsing and its cache: the cached records read back equal to the parsed ones. */
import { readFileSync, writeFileSync } from "node:fs";
import { deserialize, serialize } from "node:v8";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { allRows, concatRows, indexRecords, parsePackages } from "../src/packages-index.js";
import { tempDirs } from "./temp-dirs.js";

const tmp = tempDirs("kiln-debian-index-");

// as archive.ts hands it over: the UTF-8 bytes of the file decoded as latin1
const INDEX = Buffer.from(
  `Package: bash
Source: bash (5.2.15-2)
Version: 5.2.15-2+b2
Installed-Size: 7164
Maintainer: Matthias Klose <doko@test.invalid>
Architecture: amd64
Pre-Depends: libc6 (>= 2.36), libtinfo6 (>= 6)
Depends: base-files (>= 2.1.12), debianutils (>= 5.6-0.1)
Recommends: bash-completion (>= 20060301-0)
Conflicts: bash-completion (<< 20060301-0)
Description: GNU Bourne Again SHell
 Bash is an sh-compatible command language interpreter.
Essential: yes
Section: shells
Priority: required
Filename: pool/main/b/bash/bash_5.2.15-2+b2_amd64.deb
Size: 1491240
SHA256: 1c5bd81dafa5b00a7bd2d0f73a5b6e6a9f8e2b9b0e1bf3cd68e19bf0a1a0b7e3

Package: mawk
Version: 1.3.4.20200120-3.1
Architecture: amd64
Multi-Arch: foreign
Provides: awk
Description: Pattern scanning and text processing language — naïve ünïcödé
Priority: required
Filename: pool/main/m/mawk/mawk_1.3.4.20200120-3.1_amd64.deb
Size: 119104
SHA256: 83a6a0e3f4d3d2b1b77b7d5e0b1d6d0cbbc8f3a1e51d86bfad5b8b5d9a7a3c61
`,
).toString("latin1");

/** A fresh cache directory and an index text source counting how often it is read. */
function cachedIndex(): { cache: string; text: () => Promise<string>; reads: () => number } {
  const cache = tmp();
  let reads = 0;
  return {
    cache,
    text: async () => {
      reads++;
      return INDEX;
    },
    reads: () => reads,
  };
}

describe("Packages index", () => {
  it("parses stanzas: fields, Source without its version, the first line of Description in UTF-8", () => {
    const [bash, mawk] = parsePackages(INDEX, "Packages");
    expect(bash).toMatchObject({ name: "bash", version: "5.2.15-2+b2", source: "bash", essential: true, size: 1491240, installedSize: 7164, preDepends: "libc6 (>= 2.36), libtinfo6 (>= 6)", summary: "GNU Bourne Again SHell" });
    expect(mawk).toMatchObject({ name: "mawk", essential: false, multiArch: "foreign", provides: "awk", source: "mawk", summary: "Pattern scanning and text processing language — naïve ünïcödé" });
  });

  it("the cache gives back the same records (numbers, booleans, UTF-8), and JSON sees every field", async () => {
    const { cache, text, reads } = cachedIndex();
    const first = allRows(await indexRecords(cache, "k1", "Packages", text));
    const rows = await indexRecords(cache, "k1", "Packages", text);
    expect(reads()).toBe(1);
    // a row's name without its record, and the same record each time
    expect([rows.name(0), rows.name(1)]).toEqual(["bash", "mawk"]);
    expect(rows.at(1)).toBe(rows.at(1));
    const second = allRows(rows);
    expect(JSON.parse(JSON.stringify(second))).toEqual(JSON.parse(JSON.stringify(first)));
    expect(second[0].essential).toBe(true);
    expect(second[1].essential).toBe(false);
    expect(second[0].size).toBe(1491240);
    expect(second[1].summary).toBe(first[1].summary);
    // cells are cut from the columns as read: empty ones and the last row too
    expect(second.map((p) => [p.provides, p.conflicts, p.multiArch, p.sha256.slice(0, 8)])).toEqual([
      ["", "bash-completion (<< 20060301-0)", "", "1c5bd81d"],
      ["awk", "", "foreign", "83a6a0e3"],
    ]);
  });

  it("a cache whose columns do not hold one cell per record is read again from the index", async () => {
    const { cache, text, reads } = cachedIndex();
    await indexRecords(cache, "k2", "Packages", text);
    const file = join(cache, "debian", "k2.v8");
    const damaged = deserialize(readFileSync(file)) as { joined: Record<string, string> };
    expect(allRows(await indexRecords(cache, "k2", "Packages", text)).map((p) => p.name)).toEqual(["bash", "mawk"]);
    expect(reads()).toBe(1);
    damaged.joined.name += "\0extra";
    writeFileSync(file, serialize(damaged));
    const again = await indexRecords(cache, "k2", "Packages", text);
    expect(reads()).toBe(2);
    expect(allRows(again).map((p) => p.name)).toEqual(["bash", "mawk"]);
  });

  it("the rows of several indexes follow each other (a suite's components)", async () => {
    const a = await indexRecords(cachedIndex().cache, "k3", "Packages", async () => INDEX);
    const b = await indexRecords(cachedIndex().cache, "k4", "Packages", async () => INDEX.replace(/^Package: bash$/m, "Package: dash"));
    const both = concatRows([a, b]);
    expect(both.count).toBe(4);
    expect([0, 1, 2, 3].map((i) => both.name(i))).toEqual(["bash", "mawk", "dash", "mawk"]);
    expect(both.at(2)).toBe(b.at(0));
    expect(both.at(3).version).toBe("1.3.4.20200120-3.1");
  });

  it("a stanza without Package or Version is an error naming the line", () => {
    expect(() => parsePackages("Package: a\nVersion: 1\n\nVersion: 2\nArchitecture: all\n", "Packages")).toThrow(/Packages:4: a stanza without Package or Version/);
  });
});
