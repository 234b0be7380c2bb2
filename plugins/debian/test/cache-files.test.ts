/** The plugin's caches do not pile up: one unused for a week goes when a new one of its kind is written; one read stays. */
import { existsSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { markUsed, pruneUnused, UNUSED_FOR_MS } from "../src/cache-files.js";
import { indexRecords } from "../src/packages-index.js";
import { tempDirs } from "./temp-dirs.js";

const tmp = tempDirs("kiln-debian-cache-");
const DAY = 24 * 60 * 60 * 1000;
const ageBy = (file: string, ms: number) => {
  const t = (Date.now() - ms) / 1000;
  utimesSync(file, t, t);
};
const hex = (c: string) => c.repeat(64);

describe("cache files", () => {
  it("pruneUnused removes files of the kind unused for a week, nothing else", () => {
    const dir = tmp();
    const files = { old: `universe-${hex("a")}.v8`, recent: `universe-${hex("b")}.v8`, otherKind: `rootfs-${hex("c")}.json`, foreign: "notes.txt" };
    for (const f of Object.values(files)) writeFileSync(join(dir, f), "x");
    for (const f of [files.old, files.otherKind, files.foreign]) ageBy(join(dir, f), UNUSED_FOR_MS + DAY);
    ageBy(join(dir, files.recent), UNUSED_FOR_MS - DAY);
    expect(pruneUnused(dir, /^universe-[0-9a-f]{64}\.v8$/)).toEqual([files.old]);
    expect([files.recent, files.otherKind, files.foreign].every((f) => existsSync(join(dir, f)))).toBe(true);
    expect(pruneUnused(join(dir, "missing"), /./)).toEqual([]);
  });

  it("markUsed moves an mtime older than a day to now, and leaves a fresher one alone", () => {
    const dir = tmp();
    const file = join(dir, "f");
    writeFileSync(file, "x");
    ageBy(file, 2 * DAY);
    markUsed(file);
    expect(Date.now() - statSync(file).mtimeMs).toBeLessThan(60_000);
    ageBy(file, DAY / 2);
    const before = statSync(file).mtimeMs;
    markUsed(file);
    expect(statSync(file).mtimeMs).toBe(before);
    markUsed(join(dir, "missing")); // no error
  });

  it("a parsed index read from the cache stays; another unused for a week goes when a new index is parsed", async () => {
    const cache = tmp();
    const text = async () => "Package: a\nVersion: 1\nArchitecture: all\n";
    await indexRecords(cache, hex("1"), "Packages", text);
    await indexRecords(cache, hex("2"), "Packages", text);
    const [one, two] = [hex("1"), hex("2")].map((k) => join(cache, "debian", `${k}.v8`));
    ageBy(one, UNUSED_FOR_MS + DAY);
    ageBy(two, UNUSED_FOR_MS + DAY);
    // index 1 is read (a parse of its suite), then a third index is parsed
    await indexRecords(cache, hex("1"), "Packages", async () => {
      throw new Error("read from the cache, not parsed");
    });
    await indexRecords(cache, hex("3"), "Packages", text);
    expect(existsSync(one)).toBe(true);
    expect(existsSync(two)).toBe(false);
  });
});
