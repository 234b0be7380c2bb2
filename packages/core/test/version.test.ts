import { describe, expect, it } from "vitest";
import { vercmp, splitVersion, utils } from "../src/index.js";

// bb.utils.vercmp_string semantics: epoch, version, revision; ~ sorts first.
const cases: [string, string, number][] = [
  ["1.0", "1.0", 0],
  ["1.0", "1.1", -1],
  ["1.10", "1.9", 1],
  ["1.0a", "1.0", 1],
  ["1.0~rc1", "1.0", -1],
  ["1.0~rc1", "1.0~rc2", -1],
  ["1:1.0", "2.0", 1],
  ["1.0-r1", "1.0-r0", 1],
  ["1.0-r10", "1.0-r9", 1],
  ["1.0.1", "1.0", 1],
  ["1.0+git1", "1.0", 1],
  ["2.0", "10.0", -1],
  ["a", "b", -1],
  ["1.0.", "1.0", 1],
];

describe("vercmp", () => {
  it.each(cases)("%s vs %s -> %i", (a, b, want) => {
    expect(Math.sign(vercmp(a, b))).toBe(want);
    expect(Math.sign(vercmp(b, a))).toBe(want === 0 ? 0 : -want);
  });

  it("splits epoch, version and revision", () => {
    expect(splitVersion("2:1.4-r3")).toEqual({ epoch: 2, version: "1.4", revision: "r3" });
    expect(splitVersion(">= 1.0")).toEqual({ epoch: 0, version: "1.0", revision: "" });
  });

  it("is the kiln.utils.vercmp metadata code sees", () => {
    expect(utils.vercmp("1.2", "1.10")).toBeLessThan(0);
  });
});
