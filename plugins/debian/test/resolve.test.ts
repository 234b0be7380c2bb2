/** The rootfs package-set resolver: seeds per variant, closure, alternatives, virtuals. */
import { describe, expect, it } from "vitest";
import { KilnError } from "@kiln/core";
import type { DebianPackage } from "../src/types.js";
import { debianPackage } from "./debian-package.js";
import { buildUniverse, explainResolution, resolveRootfs, seedPackages, type ResolveRequest, type Universe } from "../src/resolve.js";

const pkg = debianPackage;

/** A small bookworm-shaped suite. */
function suite(): DebianPackage[] {
  return [
    pkg("base-files", { essential: true, priority: "required", preDepends: "awk", version: "12.4+deb12u5" }),
    pkg("bash", { essential: true, priority: "required", preDepends: "libc6 (>= 2.36), libtinfo6 (>= 6)", version: "5.2.15-2+b2" }),
    pkg("dpkg", {
      essential: true,
      priority: "required",
      preDepends: "libc6 (>= 2.34), libzstd1 (>= 1.5.2)",
      depends: "tar (>= 1.28-1)",
      version: "1.21.22",
    }),
    pkg("tar", { essential: true, priority: "required", preDepends: "libc6 (>= 2.35)", version: "1.34+dfsg-1.2+deb12u1" }),
    pkg("init-system-helpers", {
      essential: true,
      priority: "required",
      depends: "usrmerge | usr-is-merged, perl-base (>= 5.20.1-3)",
      version: "1.65.2",
      arch: "all",
    }),
    pkg("perl-base", { essential: true, priority: "required", preDepends: "libc6 (>= 2.35)", version: "5.36.0-7+deb12u1" }),
    pkg("mawk", { priority: "required", provides: "awk", preDepends: "libc6 (>= 2.29)", version: "1.3.4.20200120-3.1" }),
    pkg("gawk", { priority: "optional", provides: "awk", preDepends: "libc6 (>= 2.34)", depends: "libmpfr6 (>= 3.1.3)", version: "1:5.2.1-2" }),
    pkg("libmpfr6", { version: "4.2.0-1" }),
    pkg("libc6", { priority: "required", depends: "libgcc-s1", version: "2.36-9+deb12u7", multiArch: "same" }),
    pkg("libgcc-s1", { priority: "required", depends: "gcc-12-base (= 12.2.0-14), libc6 (>= 2.35)", version: "12.2.0-14" }),
    pkg("gcc-12-base", { priority: "required", version: "12.2.0-14" }),
    pkg("libtinfo6", { priority: "required", depends: "libc6 (>= 2.34)", version: "6.4-4" }),
    pkg("libzstd1", { priority: "required", depends: "libc6 (>= 2.34)", version: "1.5.4+dfsg2-5" }),
    pkg("apt", {
      priority: "important",
      depends: "adduser, gpgv | gpgv2 | gpgv1, libapt-pkg6.0 (>= 2.6.1), debian-archive-keyring, libc6 (>= 2.34)",
      recommends: "ca-certificates",
      version: "2.6.1",
    }),
    pkg("adduser", { priority: "important", depends: "passwd", version: "3.134", arch: "all" }),
    pkg("passwd", { priority: "required", depends: "libc6 (>= 2.34)", version: "1:4.13+dfsg1-1+b1" }),
    pkg("gpgv", { priority: "important", depends: "libc6 (>= 2.34)", version: "2.2.40-1.1" }),
    pkg("gpgv1", { version: "1.4.23-1.1" }),
    pkg("libapt-pkg6.0", { priority: "important", depends: "libzstd1 (>= 1.5.2), libc6 (>= 2.34)", version: "2.6.1" }),
    pkg("debian-archive-keyring", { priority: "important", version: "2023.3+deb12u1", arch: "all" }),
    pkg("ca-certificates", { priority: "optional", depends: "openssl", version: "20230311", arch: "all" }),
    pkg("openssl", { depends: "libc6 (>= 2.34)", version: "3.0.11-1~deb12u2" }),
    pkg("usrmerge", { depends: "perl:any, libfile-find-rule-perl", version: "37~deb12u1", arch: "all" }),
    pkg("usr-is-merged", { version: "37~deb12u1", arch: "all" }),
    pkg("perl", { depends: "perl-base (= 5.36.0-7+deb12u1), perl-modules-5.36 (>= 5.36.0-7+deb12u1)", version: "5.36.0-7+deb12u1" }),
    pkg("perl-modules-5.36", { version: "5.36.0-7+deb12u1", arch: "all" }),
    pkg("libfile-find-rule-perl", { depends: "perl:any", version: "0.34-3", arch: "all" }),
    pkg("vim", { depends: "libc6 (>= 2.34)", version: "2:9.0.1378-2" }),
    // Another architecture: never part of an amd64 universe.
    pkg("arm-only", { arch: "arm64" }),
  ];
}

const names = (set: { packages: DebianPackage[] }): string[] => set.packages.map((p) => p.name);

function expectDependencyError(f: () => unknown): KilnError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(KilnError);
    expect((e as KilnError).code).toBe("DEPENDENCY_ERROR");
    return e as KilnError;
  }
  throw new Error("expected a DEPENDENCY_ERROR");
}

/** Deterministic Fisher-Yates with a small LCG, so a failing shuffle can be replayed. */
function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let s = seed >>> 0;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

describe("buildUniverse", () => {
  it("keeps the newest version of each name (dpkg order, epochs and ~)", () => {
    const u = buildUniverse(
      [
        pkg("a", { version: "1.0-1" }),
        pkg("a", { version: "1:0.1-1" }),
        pkg("a", { version: "1.5" }),
        pkg("b", { version: "2.0~rc1" }),
        pkg("b", { version: "2.0" }),
        pkg("b", { version: "2.0~beta" }),
      ],
      "amd64",
    );
    expect(u.byName.get("a")?.version).toBe("1:0.1-1");
    expect(u.byName.get("b")?.version).toBe("2.0");
  });

  it("keeps only the requested architecture and all", () => {
    const u = buildUniverse(suite(), "amd64");
    expect(u.byName.has("arm-only")).toBe(false);
    expect(u.byName.get("init-system-helpers")?.arch).toBe("all");
    expect(u.byName.get("bash")?.arch).toBe("amd64");
    const arm = buildUniverse([pkg("x", { arch: "amd64", version: "9" }), pkg("x", { arch: "arm64", version: "1" })], "arm64");
    expect(arm.byName.get("x")?.version).toBe("1");
  });

  it("indexes Provides, versioned or not, providers sorted by name", () => {
    const u = buildUniverse(
      [
        pkg("zz-mta", { provides: "mail-transport-agent" }),
        pkg("aa-mta", { provides: "mail-transport-agent, default-mta (= 2.0)" }),
      ],
      "amd64",
    );
    expect(u.providers.get("mail-transport-agent")?.map((p) => p.pkg.name)).toEqual(["aa-mta", "zz-mta"]);
    expect(u.providers.get("mail-transport-agent")?.[0].version).toBeUndefined();
    expect(u.providers.get("default-mta")?.[0].version).toBe("2.0");
  });

  it("does not depend on the input order, even for equal versions", () => {
    const input = [
      ...suite(),
      pkg("dup", { version: "1.0", arch: "all", filename: "pool/contrib/d/dup_1.0_all.deb" }),
      pkg("dup", { version: "1.0", arch: "amd64", filename: "pool/main/d/dup_1.0_amd64.deb" }),
      pkg("bash", { essential: true, priority: "required", version: "5.2.15-2" }),
    ];
    const ref = buildUniverse(input, "amd64");
    for (let seed = 1; seed <= 5; seed++) {
      const u = buildUniverse(shuffled(input, seed), "amd64");
      expect([...u.byName.keys()].sort()).toEqual([...ref.byName.keys()].sort());
      for (const [n, p] of ref.byName) expect(u.byName.get(n)).toBe(p);
    }
    expect(ref.byName.get("dup")?.arch).toBe("amd64");
    expect(ref.byName.get("bash")?.version).toBe("5.2.15-2+b2");
  });
});

describe("seedPackages", () => {
  const u = buildUniverse(suite(), "amd64");
  const essential = ["base-files", "bash", "dpkg", "init-system-helpers", "perl-base", "tar"];
  const required = ["gcc-12-base", "libc6", "libgcc-s1", "libtinfo6", "libzstd1", "mawk", "passwd"];

  it("essential: the Essential: yes packages", () => {
    const s = seedPackages(u, { variant: "essential" });
    expect(s.map((x) => x.name)).toEqual(essential);
    expect(new Set(s.map((x) => x.why))).toEqual(new Set(["Essential: yes"]));
  });

  it("minbase and required: Essential + Priority: required + apt", () => {
    for (const variant of ["minbase", "required"] as const) {
      const s = seedPackages(u, { variant });
      expect(s.map((x) => x.name)).toEqual([...essential, ...required, "apt"]);
      expect(s.find((x) => x.name === "mawk")?.why).toBe("Priority: required");
      expect(s.find((x) => x.name === "bash")?.why).toBe("Essential: yes");
      expect(s.find((x) => x.name === "apt")?.why).toBe(`variant ${variant}: apt`);
    }
  });

  it("custom: DEBIAN_PACKAGES only; DEBIAN_PACKAGES are added to any variant", () => {
    expect(seedPackages(u, { variant: "custom" })).toEqual([]);
    expect(seedPackages(u, { variant: "custom", packages: ["vim", "dpkg"] })).toEqual([
      { name: "vim", why: "DEBIAN_PACKAGES" },
      { name: "dpkg", why: "DEBIAN_PACKAGES" },
    ]);
    const s = seedPackages(u, { variant: "essential", packages: ["vim", "bash"] });
    expect(s.at(-1)).toEqual({ name: "vim", why: "DEBIAN_PACKAGES" });
    expect(s.find((x) => x.name === "bash")?.why).toBe("Essential: yes");
  });

  it("rejects unknown packages, versions in names and a universe without apt", () => {
    const e = expectDependencyError(() => seedPackages(u, { variant: "custom", packages: ["no-such-pkg"] }));
    expect(e.message).toContain("no-such-pkg");
    expect(() => seedPackages(u, { variant: "custom", packages: ["vim=2:9.0"] })).toThrow(/not a package name/);
    const noApt = buildUniverse(suite().filter((p) => p.name !== "apt"), "amd64");
    expect(expectDependencyError(() => seedPackages(noApt, { variant: "minbase" })).message).toContain("apt");
    expect(seedPackages(noApt, { variant: "essential" }).length).toBe(essential.length);
  });
});

describe("resolveRootfs", () => {
  const u = buildUniverse(suite(), "amd64");

  it("minbase: the closure over Pre-Depends and Depends", () => {
    const set = resolveRootfs(u, { variant: "minbase" });
    expect(names(set)).toEqual([
      "adduser",
      "apt",
      "base-files",
      "bash",
      "debian-archive-keyring",
      "dpkg",
      "gcc-12-base",
      "gpgv",
      "init-system-helpers",
      "libapt-pkg6.0",
      "libc6",
      "libgcc-s1",
      "libtinfo6",
      "libzstd1",
      "mawk",
      "passwd",
      "perl-base",
      "tar",
      "usr-is-merged",
    ]);
    expect(set.why.get("libapt-pkg6.0")).toBe("Depends of apt: libapt-pkg6.0 (>= 2.6.1)");
    expect(set.why.get("adduser")).toBe("Depends of apt: adduser");
    expect(set.why.get("passwd")).toBe("Priority: required");
    expect(set.warnings).toEqual([]);
    // Recommends are not followed by default (ca-certificates).
    expect(names(set)).not.toContain("ca-certificates");
  });

  it("essential: Pre-Depends pull in their own closure", () => {
    const set = resolveRootfs(u, { variant: "essential" });
    expect(set.why.get("mawk")).toBe("provides awk (Pre-Depends of base-files)");
    expect(set.why.get("libc6")).toBe("Pre-Depends of bash: libc6 (>= 2.36)");
    expect(set.why.get("libgcc-s1")).toBe("Depends of libc6: libgcc-s1");
    expect(set.why.get("gcc-12-base")).toBe("Depends of libgcc-s1: gcc-12-base (= 12.2.0-14)");
    expect(names(set)).not.toContain("apt");
    expect(names(set)).not.toContain("passwd");
  });

  it("custom: only DEBIAN_PACKAGES and their dependencies", () => {
    const set = resolveRootfs(u, { variant: "custom", packages: ["vim"] });
    expect(names(set)).toEqual(["gcc-12-base", "libc6", "libgcc-s1", "vim"]);
    expect(set.why.get("vim")).toBe("DEBIAN_PACKAGES");
  });

  it("recommends=true also follows Recommends (and skips unsatisfiable ones)", () => {
    const extra = [...suite(), pkg("wants", { recommends: "no-such-thing, vim" })];
    const u2 = buildUniverse(extra, "amd64");
    const set = resolveRootfs(u2, { variant: "minbase", recommends: true, packages: ["wants"] });
    expect(set.why.get("ca-certificates")).toBe("Recommends of apt: ca-certificates");
    expect(set.why.get("openssl")).toBe("Depends of ca-certificates: openssl");
    expect(set.why.get("vim")).toBe("Recommends of wants: vim");
  });

  describe("alternatives", () => {
    it("takes the first satisfiable alternative", () => {
      const set = resolveRootfs(u, { variant: "minbase" });
      expect(set.why.get("gpgv")).toBe("Depends of apt: gpgv | gpgv2 | gpgv1");
      expect(names(set)).not.toContain("gpgv1");
    });

    it("adds nothing when a later alternative is already selected", () => {
      const set = resolveRootfs(u, { variant: "minbase", packages: ["gpgv1"] });
      expect(names(set)).toContain("gpgv1");
      expect(names(set)).not.toContain("gpgv");
      expect(set.why.get("gpgv1")).toBe("DEBIAN_PACKAGES");
    });

    it("falls through a missing first alternative", () => {
      const u2 = buildUniverse(suite().filter((p) => p.name !== "gpgv"), "amd64");
      const set = resolveRootfs(u2, { variant: "minbase" });
      expect(set.why.get("gpgv1")).toBe("Depends of apt: gpgv | gpgv2 | gpgv1");
    });

    it("falls through an alternative whose version is too old", () => {
      const u2 = buildUniverse([pkg("top", { depends: "new (>= 2) | old" }), pkg("new", { version: "1.9" }), pkg("old")], "amd64");
      expect(names(resolveRootfs(u2, { variant: "custom", packages: ["top"] }))).toEqual(["old", "top"]);
    });
  });

  describe("virtual packages", () => {
    it("awk: mawk (Priority: required) over gawk (optional)", () => {
      const set = resolveRootfs(u, { variant: "essential" });
      expect(names(set)).toContain("mawk");
      expect(names(set)).not.toContain("gawk");
    });

    it("prefers a provider that is already selected", () => {
      const set = resolveRootfs(u, { variant: "custom", packages: ["base-files", "gawk"] });
      expect(names(set)).toContain("gawk");
      expect(names(set)).not.toContain("mawk");
      expect(set.why.get("libmpfr6")).toBe("Depends of gawk: libmpfr6 (>= 3.1.3)");
    });

    it("among equal providers, Essential first, then the first by name", () => {
      const u2 = buildUniverse(
        [
          pkg("user", { depends: "editor" }),
          pkg("zed", { provides: "editor" }),
          pkg("bed", { provides: "editor" }),
          pkg("ned", { provides: "editor", priority: "extra" }),
        ],
        "amd64",
      );
      expect(names(resolveRootfs(u2, { variant: "custom", packages: ["user"] }))).toEqual(["bed", "user"]);
      const u3 = buildUniverse([...u2.byName.values(), pkg("zzz", { provides: "editor", essential: true, priority: "extra" })], "amd64");
      expect(resolveRootfs(u3, { variant: "custom", packages: ["user"] }).why.get("zzz")).toBe("provides editor (Depends of user)");
    });

    it("a virtual name in DEBIAN_PACKAGES installs its preferred provider", () => {
      const set = resolveRootfs(u, { variant: "custom", packages: ["awk"] });
      expect(set.why.get("mawk")).toBe("provides awk (DEBIAN_PACKAGES)");
    });

    it("versioned Provides satisfy a versioned Depends; unversioned ones do not", () => {
      const u2 = buildUniverse(
        [
          pkg("app", { depends: "libfoo-abi (>= 2)" }),
          pkg("foo-old", { provides: "libfoo-abi (= 1)" }),
          pkg("foo-new", { provides: "libfoo-abi (= 3)" }),
          pkg("foo-any", { provides: "libfoo-abi" }),
        ],
        "amd64",
      );
      const set = resolveRootfs(u2, { variant: "custom", packages: ["app"] });
      expect(names(set)).toEqual(["app", "foo-new"]);
      expect(set.why.get("foo-new")).toBe("provides libfoo-abi (Depends of app)");

      const u3 = buildUniverse([...u2.byName.values()].filter((p) => p.name !== "foo-new"), "amd64");
      const e = expectDependencyError(() => resolveRootfs(u3, { variant: "custom", packages: ["app"] }));
      expect(e.message).toContain("libfoo-abi (>= 2)");
      expect(e.message).toContain("foo-any provides it unversioned");
      expect(e.message).toContain("foo-old provides version 1");

      // An unversioned Depends is satisfied by any provider, versioned or not.
      const u4 = buildUniverse([pkg("app2", { depends: "libfoo-abi" }), pkg("foo-any", { provides: "libfoo-abi" })], "amd64");
      expect(names(resolveRootfs(u4, { variant: "custom", packages: ["app2"] }))).toEqual(["app2", "foo-any"]);
    });

    it("a selected package's versioned Provides satisfies later relations", () => {
      const u2 = buildUniverse(
        [
          pkg("a", { depends: "x (>= 1)" }),
          pkg("b", { depends: "x (>= 5)" }),
          pkg("x", { version: "0.5" }),
          pkg("x-compat", { provides: "x (= 6)" }),
        ],
        "amd64",
      );
      const set = resolveRootfs(u2, { variant: "custom", packages: ["b", "a"] });
      // b needs x >= 5: only x-compat; then a's x (>= 1) is already satisfied by it.
      expect(names(set)).toEqual(["a", "b", "x-compat"]);
    });
  });

  describe("version constraints", () => {
    const mk = (dep: string, ver: string) =>
      buildUniverse([pkg("top", { depends: dep }), pkg("lib", { version: ver })], "amd64");
    const ok = (dep: string, ver: string) => names(resolveRootfs(mk(dep, ver), { variant: "custom", packages: ["top"] })).includes("lib");

    it("honours epochs", () => {
      expect(ok("lib (>= 1:1.0)", "1:1.0-1")).toBe(true);
      expect(() => ok("lib (>= 1:1.0)", "9.9-1")).toThrow(/available version is 9\.9-1/);
      expect(ok("lib (>= 2.0)", "1:0.1")).toBe(true);
      expect(ok("lib (<< 1:0)", "9.9")).toBe(true);
    });

    it("honours ~ (sorts before anything, even the end)", () => {
      expect(ok("lib (>= 1.0~)", "1.0~rc1-1")).toBe(true);
      expect(() => ok("lib (>= 1.0)", "1.0~rc1-1")).toThrow(/available version is 1\.0~rc1-1/);
      expect(ok("lib (<< 1.0)", "1.0~rc1-1")).toBe(true);
      expect(ok("lib (= 2.0-1~bpo12+1)", "2.0-1~bpo12+1")).toBe(true);
      expect(() => ok("lib (>> 2.0-1)", "2.0-1~bpo12+1")).toThrow(/Cannot resolve top/);
    });

    it("a versioned dependency the newest version does not satisfy names the available one", () => {
      const u2 = buildUniverse([...suite().filter((p) => p.name !== "libzstd1"), pkg("libzstd1", { version: "1.4.8+dfsg-3" })], "amd64");
      const e = expectDependencyError(() => resolveRootfs(u2, { variant: "minbase" }));
      expect(e.message).toContain("libzstd1 (>= 1.5.2)");
      expect(e.message).toContain("available version is 1.4.8+dfsg-3");
    });
  });

  describe("merged /usr", () => {
    it("mergedUsr (default) prefers usr-is-merged over usrmerge", () => {
      const set = resolveRootfs(u, { variant: "minbase" });
      expect(set.why.get("usr-is-merged")).toBe("Depends of init-system-helpers: usrmerge | usr-is-merged");
      expect(names(set)).not.toContain("usrmerge");
      expect(names(set)).not.toContain("perl");
    });

    it("mergedUsr=false takes the first alternative, usrmerge, and its dependencies", () => {
      const set = resolveRootfs(u, { variant: "minbase", mergedUsr: false });
      expect(set.why.get("usrmerge")).toBe("Depends of init-system-helpers: usrmerge | usr-is-merged");
      expect(set.why.get("perl")).toBe("Depends of usrmerge: perl:any");
      expect(set.why.get("perl-modules-5.36")).toBe("Depends of perl: perl-modules-5.36 (>= 5.36.0-7+deb12u1)");
      expect(set.why.get("libfile-find-rule-perl")).toBe("Depends of usrmerge: libfile-find-rule-perl");
      expect(names(set)).not.toContain("usr-is-merged");
    });

    it("an explicitly requested usrmerge still satisfies the alternative", () => {
      const set = resolveRootfs(u, { variant: "minbase", packages: ["usrmerge"] });
      expect(names(set)).toContain("usrmerge");
      expect(names(set)).not.toContain("usr-is-merged");
    });
  });

  describe("architectures", () => {
    it("ignores packages of other architectures and honours [arch] restrictions", () => {
      const input = [
        pkg("top", { arch: "all", depends: "libamd [amd64], libarm [arm64], libnot [!amd64], only-arm [!amd64]" }),
        pkg("libamd", { arch: "all" }),
        pkg("libarm", { arch: "all" }),
        pkg("libnot", { arch: "all" }),
        pkg("only-arm", { arch: "arm64" }),
        pkg("needs-arm", { arch: "all", depends: "only-arm" }),
      ];
      const amd = buildUniverse(input, "amd64");
      expect(amd.byName.has("only-arm")).toBe(false);
      expect(names(resolveRootfs(amd, { variant: "custom", packages: ["top"] }))).toEqual(["libamd", "top"]);
      const e = expectDependencyError(() => resolveRootfs(amd, { variant: "custom", packages: ["needs-arm"] }));
      expect(e.message).toContain("only-arm: no such package for amd64");

      const arm = buildUniverse(input, "arm64");
      expect(names(resolveRootfs(arm, { variant: "custom", packages: ["top"] }))).toEqual(["libarm", "libnot", "only-arm", "top"]);
    });

    it("treats :any / :native qualifiers as the universe's architecture", () => {
      const u2 = buildUniverse([pkg("top", { depends: "perl:any, python3:native" }), pkg("perl"), pkg("python3")], "amd64");
      expect(names(resolveRootfs(u2, { variant: "custom", packages: ["top"] }))).toEqual(["perl", "python3", "top"]);
    });
  });

  describe("errors", () => {
    it("an unsatisfiable dependency names the package, field, relation and chain", () => {
      const broken = suite().map((p) => (p.name === "libapt-pkg6.0" ? { ...p, depends: "libzstd1 (>= 1.5.2), libxxhash0 (>= 0.8)" } : p));
      const e = expectDependencyError(() => resolveRootfs(buildUniverse(broken, "amd64"), { variant: "minbase" }));
      expect(e.message).toContain("libapt-pkg6.0 2.6.1 Depends: libxxhash0 (>= 0.8)");
      expect(e.message).toContain("libxxhash0 (>= 0.8): no such package for amd64");
      expect(e.message).toContain(
        "variant minbase: apt -> apt Depends: libapt-pkg6.0 (>= 2.6.1) -> libapt-pkg6.0 Depends: libxxhash0 (>= 0.8)",
      );
      expect(e.hint).toBeTruthy();
      expect(e.details).toMatchObject({ package: "libapt-pkg6.0", field: "Depends", relation: "libxxhash0 (>= 0.8)" });
      expect((e.details as { chain: string[] }).chain[0]).toBe("variant minbase: apt");
    });

    it("the chain starts at the seed's reason", () => {
      const broken = suite().map((p) => (p.name === "libgcc-s1" ? { ...p, depends: "gcc-12-base (= 12.2.0-15)" } : p));
      const e = expectDependencyError(() => resolveRootfs(buildUniverse(broken, "amd64"), { variant: "essential" }));
      expect(e.message).toContain(
        "pulled in by: Essential: yes (bash) -> bash Pre-Depends: libc6 (>= 2.36) -> libc6 Depends: libgcc-s1 -> libgcc-s1 Depends: gcc-12-base (= 12.2.0-15)",
      );
      expect(e.message).toContain("available version is 12.2.0-14");
    });
  });

  it("warns about Conflicts and Breaks between selected packages", () => {
    const u2 = buildUniverse(
      [
        pkg("a", { depends: "b, c", conflicts: "b (<< 2), mta, a-old" }),
        pkg("b", { version: "1.5" }),
        pkg("c", { breaks: "a (<= 1.0-1)", provides: "mta" }),
        pkg("self", { provides: "mta", conflicts: "mta" }),
      ],
      "amd64",
    );
    const set = resolveRootfs(u2, { variant: "custom", packages: ["a", "self"] });
    expect(set.warnings).toEqual([
      "a 1.0-1 Conflicts: b (<< 2), but b 1.5 is selected",
      "a 1.0-1 Conflicts: mta, but c 1.0-1 (provides mta) is selected",
      "a 1.0-1 Conflicts: mta, but self 1.0-1 (provides mta) is selected",
      "c 1.0-1 Breaks: a (<= 1.0-1), but a 1.0-1 is selected",
      "self 1.0-1 Conflicts: mta, but c 1.0-1 (provides mta) is selected",
    ]);
  });

  it("is deterministic: shuffled input gives the same result", () => {
    const extra = [
      ...suite(),
      pkg("x1", { provides: "awk" }),
      pkg("x0", { provides: "awk" }),
      pkg("multi", { depends: "gpgv1 | gpgv, awk, editor" }),
      pkg("nano", { provides: "editor" }),
      pkg("ed", { provides: "editor" }),
    ];
    const reqs: ResolveRequest[] = [
      { variant: "minbase", packages: ["multi"] },
      { variant: "essential", mergedUsr: false },
      { variant: "custom", packages: ["multi", "apt"], recommends: true },
    ];
    for (const req of reqs) {
      const ref = explainResolution(resolveRootfs(buildUniverse(extra, "amd64"), req));
      for (let seed = 1; seed <= 8; seed++) {
        const got = explainResolution(resolveRootfs(buildUniverse(shuffled(extra, seed * 7919), "amd64"), req));
        expect(got).toBe(ref);
      }
    }
  });
});

describe("explainResolution", () => {
  it("prints one sorted line per package: name version arch  <- why", () => {
    const u = buildUniverse(suite(), "amd64");
    const out = explainResolution(resolveRootfs(u, { variant: "custom", packages: ["vim"] }));
    expect(out).toBe(
      [
        "gcc-12-base 12.2.0-14 amd64  <- Depends of libgcc-s1: gcc-12-base (= 12.2.0-14)",
        "libc6 2.36-9+deb12u7 amd64  <- Depends of vim: libc6 (>= 2.34)",
        "libgcc-s1 12.2.0-14 amd64  <- Depends of libc6: libgcc-s1",
        "vim 2:9.0.1378-2 amd64  <- DEBIAN_PACKAGES",
        "",
      ].join("\n"),
    );
  });
});

/** A synthetic suite of `n` packages shaped like Debian's: a required core, libraries in clusters. */
function syntheticSuite(n: number): DebianPackage[] {
  const out: DebianPackage[] = [];
  const CLUSTER = 40;
  const name = (i: number) => `pkg${i}`;
  for (let i = 0; i < n; i++) {
    const c = Math.floor(i / CLUSTER);
    const base = c * CLUSTER;
    const deps: string[] = [];
    for (let k = 1; k <= 3; k++) {
      const j = base + ((i - base + k * 7) % CLUSTER);
      if (j > i && j < n) deps.push(k === 2 ? `${name(j)} (>= 1.0) | ${name((j + 1) % n)}` : `${name(j)} (>= 0.${k})`);
    }
    if (i % 50 === 0 && i > 0) deps.push(`virt-${(i % 25) * 20 + 3}`);
    const essential = i < 30;
    out.push(
      pkg(name(i), {
        version: `${1 + (i % 3)}.${i % 10}-${i % 4}`,
        depends: deps.join(", "),
        preDepends: i < 60 && i + 1 < 60 ? `${name(i + 1)} (>= 1:0) | ${name(0)}` : "",
        provides: i % 20 === 3 ? `virt-${i % 500} (= 1.${i % 7}), virt-${(i + 1) % 500}` : "",
        conflicts: i % 9 === 0 ? `${name(i + 1)} (<< 0.1)` : "",
        essential,
        priority: i < 60 ? "required" : i % 5 === 0 ? "important" : "optional",
        arch: i % 11 === 0 ? "all" : "amd64",
      }),
    );
    // Older versions and another architecture, as a real index with several suites has.
    if (i % 10 === 0) out.push(pkg(name(i), { version: `0.${i % 10}-1`, depends: "does-not-exist" }));
    if (i % 13 === 0) out.push(pkg(name(i), { arch: "arm64", version: "99" }));
  }
  out.push(pkg("apt", { priority: "important", depends: `${name(100)}, ${name(200)} | ${name(300)}` }));
  return out;
}

describe("performance", () => {
  it("65,000 packages: buildUniverse and minbase resolution stay fast", () => {
    const input = syntheticSuite(65_000);
    const t0 = performance.now();
    const u: Universe = buildUniverse(input, "amd64");
    const t1 = performance.now();
    const seeds = seedPackages(u, { variant: "minbase" });
    const set = resolveRootfs(u, { variant: "minbase" });
    const t2 = performance.now();
    const again = resolveRootfs(u, { variant: "minbase", packages: ["pkg64000"] });
    const t3 = performance.now();
    console.log(
      `resolve perf: ${input.length} stanzas -> ${u.byName.size} packages; buildUniverse ${(t1 - t0).toFixed(1)} ms; ` +
        `minbase (${seeds.length} seeds -> ${set.packages.length} packages) ${(t2 - t1).toFixed(1)} ms; ` +
        `second resolution (cached relations) ${(t3 - t2).toFixed(1)} ms`,
    );
    expect(u.byName.size).toBe(65_001);
    expect(set.packages.length).toBeGreaterThan(seeds.length);
    expect(again.packages.length).toBeGreaterThan(set.packages.length);
    expect(t3 - t0).toBeLessThan(2000);
  });
});
