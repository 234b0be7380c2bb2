/**
 * The package set of an image, from published pkgdata (PKGDATA_DIR) alone, as
 * OpenEmbedded's rootfs does through its package manager: start from IMAGE_INSTALL,
 * follow each package's RDEPENDS (and RRECOMMENDS unless NO_RECOMMENDATIONS = "1";
 * BAD_RECOMMENDATIONS are not followed), look a name that is not a package up in
 * `runtime-rprovides/<name>/`, check version constraints, and give the packages back
 * in dependency order (dependencies first). A hard dependency nobody provides is an
 * error naming the chain that needed it (image -> pkg -> missing).
 */
import { DependencyError, explodeDepVersions, vercmpOp } from "@kiln/core";
import { readPackageData, runtimeProviders, type PackageData } from "@kiln/package";

export interface ResolvedPackage {
  /** The runtime name in pkgdata (`runtime/<pkg>`). */
  pkg: string;
  /** The package's own name in its file (PKG:<pkg>, else pkg). */
  name: string;
  data: PackageData;
  /** BitBake's `[PKGE:]PKGV-PKGR`. */
  version: string;
  /** What brought it in, the image first (image -> a -> pkg). */
  chain: string[];
  /** Named in IMAGE_INSTALL itself. */
  requested: boolean;
  /** The packages (pkg) it needs or gets recommended, resolved; the install order follows them. */
  depends: string[];
}

export interface ResolveOptions {
  pkgdataDir: string;
  /** The image's name (first link of every chain). */
  image: string;
  /** Follow RRECOMMENDS. */
  recommends: boolean;
  badRecommendations: Set<string>;
  /** Packages never installed (PACKAGE_EXCLUDE): an error when something depends on one. */
  exclude: Set<string>;
  /** PREFERRED_RPROVIDER_<name>. */
  preferredProvider(name: string): string | undefined;
  /** Whether an unversioned Provides satisfies a versioned dependency (rpm: yes; dpkg, opkg: no). */
  unversionedProvideSatisfies: boolean;
  log(line: string): void;
}

/** BitBake's package version: `[PKGE:]PKGV-PKGR`. */
export function packageVersion(data: PackageData): string {
  const epoch = (data.vars.PKGE ?? data.recipe.PE ?? "").trim();
  const v = data.vars.PKGV ?? data.recipe.PV ?? "";
  const r = data.vars.PKGR ?? data.recipe.PR ?? "";
  return `${epoch ? `${epoch}:` : ""}${v}${r ? `-${r}` : ""}`;
}

/**
 * Does `version` satisfy `constraint` (`>= 1.0`, `= 1.0-r0`, `<< 2`, ...)? A
 * constraint without a revision compares epoch and version only (rpm's rule; dpkg
 * would also need `-r0` for `=`, which no recipe writes).
 */
export function satisfies(version: string, constraint: string): boolean {
  const m = /^(<<|>>|<=|>=|==|=|<|>)\s*(\S+)$/.exec(constraint.trim());
  if (!m) return false;
  const [, op, want] = m;
  const wantHasRevision = want.replace(/^\d+:/, "").includes("-");
  const have = wantHasRevision ? version : version.replace(/-[^-:]*$/, "");
  // BitBake's `<` means strictly less (package writers turn it into dpkg's `<<`)
  return vercmpOp(have, want, op) ?? false;
}

interface Request {
  name: string;
  constraints: string[];
  chain: string[];
  recommended: boolean;
  from?: ResolvedPackage;
}

export function resolvePackages(install: string, o: ResolveOptions): ResolvedPackage[] {
  const chosen = new Map<string, ResolvedPackage>();
  /** runtime name -> [package, version the provide carries (or undefined)] */
  const provided = new Map<string, [ResolvedPackage, string | undefined][]>();
  const dataCache = new Map<string, PackageData | null>();
  const data = (pkg: string) => {
    if (!dataCache.has(pkg)) dataCache.set(pkg, readPackageData(o.pkgdataDir, pkg) ?? null);
    return dataCache.get(pkg) ?? undefined;
  };
  const roots = [...explodeDepVersions(install)];
  const queue: Request[] = roots.map(([name, constraints]) => ({ name, constraints, chain: [o.image], recommended: false }));

  const describe = (chain: string[], name: string) => [...chain, name].join(" -> ");
  const versionOfProvide = (p: PackageData, name: string) => {
    const cs = explodeDepVersions(p.vars.RPROVIDES).get(name) ?? [];
    return cs.find((c) => /^=+\s/.test(c))?.replace(/^=+\s*/, "");
  };

  const check = (r: Request, pkg: ResolvedPackage, provideVersion: string | undefined, viaProvide: boolean) => {
    for (const c of r.constraints) {
      let version = pkg.version;
      if (viaProvide) {
        if (provideVersion === undefined) {
          if (o.unversionedProvideSatisfies) continue;
          throw new DependencyError(
            `${r.chain.join(" -> ")} needs ${r.name} (${c}), but ${pkg.pkg} provides '${r.name}' without a version, which cannot satisfy a versioned dependency`,
            { details: { name: r.name, chain: r.chain, constraint: c, provider: pkg.pkg }, hint: `give the provide a version: RPROVIDES:${pkg.pkg} += "${r.name} (= <version>)"` },
          );
        }
        version = provideVersion;
      }
      if (!satisfies(version, c)) {
        throw new DependencyError(`${r.chain.join(" -> ")} needs ${r.name} (${c}), but ${viaProvide ? `${pkg.pkg} provides it at` : `${pkg.pkg} is`} version ${version}`, {
          details: { name: r.name, chain: r.chain, constraint: c, provider: pkg.pkg, version },
          hint: "build a version that satisfies the constraint, or relax it",
        });
      }
    }
  };

  const add = (pkg: string, d: PackageData, r: Request): ResolvedPackage => {
    const p: ResolvedPackage = {
      pkg,
      name: d.vars.PKG || pkg,
      data: d,
      version: packageVersion(d),
      chain: [...r.chain, pkg],
      requested: r.chain.length === 1,
      depends: [],
    };
    chosen.set(pkg, p);
    const own = provided.get(pkg) ?? [];
    provided.set(pkg, [...own, [p, undefined]]);
    for (const [name, cs] of explodeDepVersions(d.vars.RPROVIDES)) {
      const v = cs.find((c) => /^=+\s/.test(c))?.replace(/^=+\s*/, "");
      provided.set(name, [...(provided.get(name) ?? []), [p, v]]);
    }
    for (const [name, constraints] of explodeDepVersions(d.vars.RDEPENDS)) {
      queue.push({ name, constraints, chain: p.chain, recommended: false, from: p });
    }
    if (o.recommends) {
      for (const [name, constraints] of explodeDepVersions(d.vars.RRECOMMENDS)) {
        queue.push({ name, constraints, chain: p.chain, recommended: true, from: p });
      }
    }
    return p;
  };

  for (let i = 0; i < queue.length; i++) {
    const r = queue[i];
    if (r.recommended && o.badRecommendations.has(r.name)) {
      o.log(`${describe(r.chain, r.name)}: not installed (BAD_RECOMMENDATIONS)`);
      continue;
    }
    // something already chosen that is, or provides, the name
    const already = provided.get(r.name);
    if (already?.length) {
      const [p, v] = already.find(([x]) => x.pkg === r.name) ?? already[0];
      if (p === r.from) continue;
      check(r, p, v, p.pkg !== r.name);
      r.from?.depends.push(p.pkg);
      continue;
    }
    let pkg: string | undefined;
    let viaProvide = false;
    const own = data(r.name);
    if (own) pkg = r.name;
    else {
      const candidates = runtimeProviders(o.pkgdataDir, r.name).filter((c) => data(c));
      const preferred = o.preferredProvider(r.name);
      pkg = preferred && candidates.includes(preferred) ? preferred : candidates[0];
      if (candidates.length > 1 && !(preferred && candidates.includes(preferred))) {
        o.log(`'${r.name}' is provided by ${candidates.join(", ")}: using ${pkg} (set PREFERRED_RPROVIDER_${r.name} to choose)`);
      }
      viaProvide = pkg !== undefined;
    }
    if (!pkg) {
      if (r.recommended) {
        o.log(`${describe(r.chain, r.name)}: recommended, but nothing provides it; skipped`);
        continue;
      }
      throw new DependencyError(`Nothing RPROVIDES '${r.name}' (needed by ${r.chain.join(" -> ")})`, {
        details: { name: r.name, chain: r.chain },
        hint: "no published pkgdata (PKGDATA_DIR) has a package or RPROVIDES of that name: check the name, and that the recipe making it packages it (an empty package is not created unless ALLOW_EMPTY)",
      });
    }
    if (o.exclude.has(pkg)) {
      if (r.recommended) {
        o.log(`${describe(r.chain, pkg)}: not installed (PACKAGE_EXCLUDE)`);
        continue;
      }
      throw new DependencyError(`${pkg} is in PACKAGE_EXCLUDE, but ${r.chain.join(" -> ")} needs it`, { details: { name: pkg, chain: r.chain } });
    }
    const d = data(pkg) as PackageData;
    const p = chosen.get(pkg) ?? add(pkg, d, r);
    check(r, p, viaProvide ? versionOfProvide(d, r.name) : undefined, viaProvide);
    r.from?.depends.push(p.pkg);
  }

  for (const p of chosen.values()) checkConflicts(p, chosen, provided);
  return installOrder([...chosen.values()], roots.map(([n]) => n), provided);
}

/** RCONFLICTS between two chosen packages is an error naming both. */
function checkConflicts(p: ResolvedPackage, chosen: Map<string, ResolvedPackage>, provided: Map<string, [ResolvedPackage, string | undefined][]>): void {
  for (const [name, constraints] of explodeDepVersions(p.data.vars.RCONFLICTS)) {
    for (const [other] of provided.get(name) ?? []) {
      if (other === p || !chosen.has(other.pkg)) continue;
      if (constraints.length && !constraints.every((c) => satisfies(other.version, c))) continue;
      throw new DependencyError(`${p.pkg} conflicts with ${name}${constraints.length ? ` (${constraints.join(", ")})` : ""}, which ${other.chain.join(" -> ")} installs`, {
        details: { name: p.pkg, conflict: other.pkg, chain: p.chain },
      });
    }
  }
}

/** Dependencies before their users (depth first, in the order named); cycles are broken where met. */
function installOrder(all: ResolvedPackage[], roots: string[], provided: Map<string, [ResolvedPackage, string | undefined][]>): ResolvedPackage[] {
  const byPkg = new Map(all.map((p) => [p.pkg, p]));
  const out: ResolvedPackage[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (p: ResolvedPackage) => {
    if (state.has(p.pkg)) return;
    state.set(p.pkg, "visiting");
    for (const dep of p.depends) {
      const q = byPkg.get(dep);
      if (q) visit(q);
    }
    state.set(p.pkg, "done");
    out.push(p);
  };
  for (const root of roots) {
    const p = byPkg.get(root) ?? provided.get(root)?.[0]?.[0];
    if (p) visit(p);
  }
  for (const p of all) visit(p);
  return out;
}

