/**
 * Relationship fields as Policy 7.1 spells them, from real Packages entries, and the
 * rules the resolver builds on: arch restrictions, unversioned Provides, error naming.
 */
import { describe, expect, it } from "vitest";
import { KilnError } from "@kiln/core";
import {
  archMatches,
  formatRelation,
  formatRelations,
  parseRelations,
  relationsForArch,
  versionSatisfies,
  type Alternatives,
} from "../src/relations.js";

describe("parseRelations", () => {
  it("reads libc6's Depends", () => {
    expect(parseRelations("libgcc-s1, libcrypt1 (>= 1:4.4.10-10~)", "libc6 Depends")).toEqual([
      [{ name: "libgcc-s1" }],
      [{ name: "libcrypt1", op: ">=", version: "1:4.4.10-10~" }],
    ]);
  });

  it("reads Pre-Depends and versioned Provides", () => {
    expect(parseRelations("init-system-helpers (>= 1.54~)")).toEqual([[{ name: "init-system-helpers", op: ">=", version: "1.54~" }]]);
    expect(parseRelations("awk, mawk (= 1.3.4)")).toEqual([[{ name: "awk" }], [{ name: "mawk", op: "=", version: "1.3.4" }]]);
  });

  it("reads alternatives, qualifiers, arch lists and build profiles", () => {
    expect(parseRelations("a (>= 1.0) | b:any, c [!amd64], d <stage1>, e:amd64 (<< 2) [amd64 i386] <!nocheck> <cross>")).toEqual([
      [{ name: "a", op: ">=", version: "1.0" }, { name: "b", archQualifier: "any" }],
      [{ name: "c", archRestrictions: ["!amd64"] }],
      [{ name: "d" }],
      [{ name: "e", archQualifier: "amd64", op: "<<", version: "2", archRestrictions: ["amd64", "i386"] }],
    ]);
  });

  it("tolerates whitespace and continuation lines", () => {
    const field = "\n libc6 (>= 2.34),\n libssl3   (>=3.0.0)\n  |  libssl1.1 ,\n\tzlib1g(>= 1:1.1.4)  ,";
    expect(parseRelations(field)).toEqual([
      [{ name: "libc6", op: ">=", version: "2.34" }],
      [{ name: "libssl3", op: ">=", version: "3.0.0" }, { name: "libssl1.1" }],
      [{ name: "zlib1g", op: ">=", version: "1:1.1.4" }],
    ]);
  });

  it("reads every operator, the deprecated ones as dpkg does", () => {
    const ops = parseRelations("a (<< 1), b (<= 1), c (= 1), d (>= 1), e (>> 1), f (< 1), g (> 1), h (1)").map((alts) => alts[0].op);
    expect(ops).toEqual(["<<", "<=", "=", ">=", ">>", "<=", ">=", "="]);
  });

  it("gives no relations for an empty field", () => {
    expect(parseRelations("")).toEqual([]);
    expect(parseRelations("  \n ")).toEqual([]);
  });

  it.each([
    ["a (>= )", "a (>= )"],
    ["a (>= 1.0", "a (>= 1.0"],
    ["a (>= 1.0 2)", "a (>= 1.0 2)"],
    ["a (>= 1.0-)", "revision number is empty"],
    ["a (>= 1_0)", "invalid character"],
    ["a, , b", "empty element"],
    ["a | | b", "empty relation"],
    ["a b", "a b"],
    ["(>= 1)", "(>= 1)"],
    ["a [amd64 !i386]", "mixes negated"],
    ["a []", "empty architecture list"],
    ["a [amd64", "a [amd64"],
    ["a:", "a:"],
    ["-a", "-a"],
    ["a <stage1", "a <stage1"],
    ["a [amd64] (>= 1)", "a [amd64] (>= 1)"],
  ])("rejects %j", (field, text) => {
    let err: unknown;
    try {
      parseRelations(field, "foo Depends");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KilnError);
    expect((err as KilnError).code).toBe("PARSE_ERROR");
    expect((err as KilnError).message).toContain("foo Depends");
    expect((err as KilnError).message).toContain(text);
  });
});

describe("relationsForArch", () => {
  const rels = parseRelations("a [amd64], b [!amd64], c | d [i386], e [linux-any], f [any-arm], g [!i386 !arm64], h");
  const names = (r: Alternatives[]) => r.map((alts) => alts.map((x) => x.name).join("|"));

  it("keeps what applies on each architecture", () => {
    expect(names(relationsForArch(rels, "amd64"))).toEqual(["a", "c", "e", "g", "h"]);
    expect(names(relationsForArch(rels, "i386"))).toEqual(["b", "c|d", "e", "h"]);
    expect(names(relationsForArch(rels, "armhf"))).toEqual(["b", "c", "e", "f", "g", "h"]);
  });

  it("drops a dependency whose alternatives all drop", () => {
    expect(relationsForArch(parseRelations("x [i386] | y [arm64], z"), "amd64")).toEqual([[{ name: "z" }]]);
  });

  it("matches Debian's arch wildcards", () => {
    expect(archMatches("amd64", "any")).toBe(true);
    expect(archMatches("amd64", "linux-any")).toBe(true);
    expect(archMatches("amd64", "any-amd64")).toBe(true);
    expect(archMatches("amd64", "any-i386")).toBe(false);
    expect(archMatches("hurd-i386", "linux-any")).toBe(false);
    expect(archMatches("hurd-i386", "hurd-any")).toBe(true);
    expect(archMatches("hurd-i386", "any-i386")).toBe(true);
    expect(archMatches("armel", "any-arm")).toBe(true);
    expect(archMatches("arm64", "any-arm")).toBe(false);
  });
});

describe("versionSatisfies", () => {
  it.each([
    ["1.0", undefined, undefined, true],
    [undefined, undefined, undefined, true],
    // An unversioned Provides never satisfies a versioned dependency.
    [undefined, ">=", "1.0", false],
    [undefined, "=", "1.0", false],
    ["1.0", "=", "1.0-0", true],
    ["1:4.4.33-2", ">=", "1:4.4.10-10~", true],
    ["1.54~rc1", ">=", "1.54~", true],
    ["1.53", ">=", "1.54~", false],
    ["2.0", "<<", "2.0", false],
    ["2.0~rc1", "<<", "2.0", true],
    ["2.0", "<=", "2.0", true],
    ["2.0+b1", ">>", "2.0", true],
    ["2.0", ">>", "2.0", false],
  ] as const)("%s %s %s", (version, op, want, ok) => {
    expect(versionSatisfies(version, op, want)).toBe(ok);
  });
});

describe("formatRelation", () => {
  it("writes relations back for messages", () => {
    expect(formatRelation({ name: "a", op: ">=", version: "1.0" })).toBe("a (>= 1.0)");
    expect(formatRelation({ name: "b", archQualifier: "any" })).toBe("b:any");
    expect(formatRelation({ name: "c", archRestrictions: ["!amd64"] })).toBe("c [!amd64]");
    const field = "a (>= 1.0) | b:any, c [!amd64], d (<< 2:1.0-1)";
    expect(formatRelations(parseRelations(field))).toBe(field);
    expect(formatRelations(parseRelations("x (> 1)"))).toBe("x (>= 1)");
  });
});
