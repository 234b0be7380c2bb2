/**
 * Debian version parsing and ordering: Policy's examples, dpkg's error cases, and
 * generated pairs checked against the real `dpkg --compare-versions` as the oracle.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { KilnError } from "@kiln/core";
import { compareDebVersions, formatDebVersion, isValidDebVersion, parseDebVersion } from "../src/version.js";

const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0);

describe("parseDebVersion", () => {
  it.each([
    ["1.0", { epoch: 0, upstream: "1.0", revision: "" }],
    ["1.0-1", { epoch: 0, upstream: "1.0", revision: "1" }],
    ["2:1.0-1", { epoch: 2, upstream: "1.0", revision: "1" }],
    ["1:4.4.10-10~", { epoch: 1, upstream: "4.4.10", revision: "10~" }],
    ["1.2-3-4", { epoch: 0, upstream: "1.2-3", revision: "4" }],
    ["1:2:3-4", { epoch: 1, upstream: "2:3", revision: "4" }],
    ["2.30-1+b1", { epoch: 0, upstream: "2.30", revision: "1+b1" }],
    ["  1.0-1\t", { epoch: 0, upstream: "1.0", revision: "1" }],
    // dpkg only warns when upstream does not start with a digit.
    ["a1.0", { epoch: 0, upstream: "a1.0", revision: "" }],
  ])("%s", (v, want) => {
    expect(parseDebVersion(v)).toEqual(want);
  });

  it.each([
    ["", "empty"],
    ["   ", "empty"],
    [":1.0", "epoch"],
    ["a:1.0", "epoch"],
    ["-1:1.0", "epoch"],
    ["99999999999:1.0", "epoch"],
    ["1:", "nothing after colon"],
    ["1.0-", "revision"],
    ["-1", "upstream version is empty"],
    ["1.0 1", "embedded spaces"],
    ["1.0_1", "invalid character"],
    ["1.0-1:2", "epoch"],
    ["1:1.0-1:2", "in revision number"],
    ["1.0-1_2", "invalid character"],
    ["1:1.0/2", "invalid character"],
  ])("rejects %j (%s)", (v, why) => {
    let err: unknown;
    try {
      parseDebVersion(v);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KilnError);
    expect((err as KilnError).code).toBe("PARSE_ERROR");
    expect((err as KilnError).message).toContain(`'${v}'`);
    expect((err as KilnError).message).toContain(why);
  });

  it("formats back and validates", () => {
    expect(formatDebVersion(parseDebVersion("1:2.0-3"))).toBe("1:2.0-3");
    expect(formatDebVersion(parseDebVersion("0:2.0"))).toBe("2.0");
    expect(isValidDebVersion("1.0-1")).toBe(true);
    expect(isValidDebVersion("1.0-")).toBe(false);
  });
});

describe("compareDebVersions", () => {
  // [a, b, sign of compare(a, b)]
  const cases: [string, string, number][] = [
    // Policy 5.6.12: ~~ < ~~a < ~ < (empty) < a
    ["1~~", "1~~a", -1],
    ["1~~a", "1~", -1],
    ["1~", "1", -1],
    ["1", "1a", -1],
    ["1.0~rc1", "1.0", -1],
    ["1.0~rc1", "1.0~rc2", -1],
    ["1.0~~", "1.0~rc1", -1],
    // Epochs beat everything else.
    ["1:0.1", "2.0", 1],
    ["0:1.0", "1.0", 0],
    ["2:1", "10:0", -1],
    // Revisions.
    ["1.0-1", "1.0-2", -1],
    ["1.0-1", "1.0-1.1", -1],
    ["1.0", "1.0-0", 0],
    ["1.0", "1.0-1", -1],
    ["2.30-1", "2.30-1+b1", -1],
    ["2.30-1+b1", "2.30-1+b2", -1],
    ["2.30-1+b1", "2.30-2", -1],
    ["1.0-1~bpo1", "1.0-1", -1],
    // Digit runs compare numerically, leading zeros ignored.
    ["1.10", "1.9", 1],
    ["1.010", "1.10", 0],
    ["1.002", "1.2", 0],
    ["1.0", "1.00", 0],
    ["1.0", "1", 1],
    ["1", "1.0", -1],
    // Letters sort before non-letters.
    ["1.0a", "1.0+", -1],
    ["1.0a", "1.0.", -1],
    ["1.0+", "1.0.", -1],
    ["1.0z", "1.0+", -1],
    ["1.0A", "1.0a", -1],
    ["1.0+dfsg", "1.0", 1],
    ["1.0+dfsg-1", "1.0-1", 1],
    ["4.4.10-10~", "4.4.10-10", -1],
    ["1:4.4.33-2", "1:4.4.10-10~", 1],
    ["1.3.4.20200120-3.1", "1.3.4", 1],
    ["7.88.1-10+deb12u5", "7.88.1-10+deb12u12", -1],
    ["a", "b", -1],
    ["1.2-3-4", "1.2-3", 1],
  ];
  it.each(cases)("%s vs %s", (a, b, want) => {
    expect(sign(compareDebVersions(a, b))).toBe(want);
    expect(sign(compareDebVersions(b, a))).toBe(-want || 0);
  });

  it("rejects what dpkg rejects", () => {
    expect(() => compareDebVersions("1.0-", "1.0")).toThrow(/1\.0-/);
    expect(() => compareDebVersions("1.0", "x:1")).toThrow(KilnError);
    expect(() => compareDebVersions("", "")).toThrow(KilnError);
  });

  it("agrees with dpkg --compare-versions on generated pairs", { timeout: 600_000 }, () => {
    // Small seeded PRNG so a failure is reproducible.
    let seed = 0x2545f491;
    const rand = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const pick = (s: string) => s[rand(s.length)];
    const part = (alphabet: string, max: number) => {
      let s = "";
      const n = rand(max) + 1;
      for (let i = 0; i < n; i++) s += rand(3) === 0 ? pick(alphabet) : pick("0123456789");
      return s;
    };
    const gen = (): string => {
      const epoch = rand(4) === 0 ? `${rand(3)}:` : "";
      const upstream = pick("0123456789") + (rand(5) ? part("0.+~abzAZ", 6) : "");
      const revision = rand(3) ? `-${part("0.+~bz", 4)}` : "";
      return epoch + upstream + revision;
    };
    // Near neighbours compare equal or differ in one place, the interesting cases (a
    // non-digit first character is allowed: dpkg only warns, on stderr, ignored below).
    const mutate = (v: string): string => {
      const i = rand(v.length + 1);
      switch (rand(4)) {
        case 0:
          return v.slice(0, i) + pick("0~.+a") + v.slice(i);
        case 1:
          return v + pick("~0a+.") + (rand(2) ? pick("019") : "");
        case 2:
          return v.replace(/[1-9]/, "0$&");
        default:
          return v.includes("-") ? v : `${v}-0`;
      }
    };
    const pairs: [string, string][] = [];
    // KILN_DEBVER_PAIRS=5000 for a longer run.
    const count = Number(process.env.KILN_DEBVER_PAIRS) || 200;
    while (pairs.length < count) {
      const a = gen();
      const b = rand(2) ? gen() : mutate(a);
      if (isValidDebVersion(a) && isValidDebVersion(b)) pairs.push([a, b]);
    }

    const dir = mkdtempSync(join(tmpdir(), "kiln-debver-"));
    try {
      const input = join(dir, "pairs");
      writeFileSync(input, pairs.map(([a, b]) => `${a} ${b}\n`).join(""));
      // One shell for all pairs: 200 process spawns from node would dominate the test.
      const script =
        'while read a b; do if dpkg --compare-versions "$a" lt "$b"; then echo -1; ' +
        'elif dpkg --compare-versions "$a" eq "$b"; then echo 0; else echo 1; fi; done < "$1"';
      const out = execFileSync("sh", ["-c", script, "sh", input], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim().split("\n").map(Number);
      expect(out).toHaveLength(pairs.length);
      const mismatches = pairs
        .map(([a, b], i) => ({ a, b, dpkg: out[i], kiln: sign(compareDebVersions(a, b)) }))
        .filter((r) => r.dpkg !== r.kiln);
      expect(mismatches).toEqual([]);
      // The generator must exercise all three outcomes.
      expect(new Set(out)).toEqual(new Set([-1, 0, 1]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is fast enough for a whole suite", () => {
    const vs = ["1:4.4.10-10~", "2.36-9+deb12u4", "1.3.4.20200120-3.1", "7.88.1-10+deb12u5", "1.0~rc1-1", "3.0.11-1~deb12u2"];
    const start = performance.now();
    let acc = 0;
    for (let i = 0; i < 300_000; i++) acc += compareDebVersions(vs[i % 6], vs[(i * 7 + 1) % 6]);
    const ms = performance.now() - start;
    expect(Number.isFinite(acc)).toBe(true);
    expect(ms).toBeLessThan(2000);
  });
});
