/**
 * do_package's body: ${D} → ${PKGD} (PACKAGE_PREPROCESS_FUNCS run there), split into
 * ${PKGDEST}/<pkg>, shared-library dependencies found, pkgdata written to ${PKGDESTWORK}.
 */
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { explodeDepVersions, type DataStore, type TaskContext } from "@kiln/core";
import { readElfDynamic } from "./elf.js";
import { PACKAGE_VARS, sharedLibraryProviders, writePackageData, type PackageData, type PackageVar } from "./pkgdata.js";
import { listTree, splitTree } from "./split.js";

const words = (v: unknown) => String(v ?? "").split(/\s+/).filter(Boolean);
const str = (d: DataStore, name: string) => String(d.getVar(name) ?? "");

/** Variables whose recipe-wide value applies to every package without its own. */
const INHERITED: PackageVar[] = ["PKGE", "PKGV", "PKGR", "PACKAGE_ARCH", "SUMMARY", "DESCRIPTION", "SECTION", "LICENSE", "HOMEPAGE"];

export function packageVar(d: DataStore, name: PackageVar, pkg: string): string | undefined {
  const own = d.getVar(`${name}:${pkg}`);
  if (own !== undefined && own !== null) return String(own);
  if (INHERITED.includes(name)) {
    const v = d.getVar(name);
    return v === undefined || v === null ? undefined : String(v);
  }
  return undefined;
}

/** Copy `rel` from `from` into `to`, creating parents with the source's modes. */
function copyEntry(from: string, to: string, rel: string): void {
  const parts = rel.split("/");
  for (let i = 1; i < parts.length; i++) {
    const dir = parts.slice(0, i).join("/");
    const target = join(to, dir);
    if (!existsSync(target)) {
      mkdirSync(target);
      chmodSync(target, statSync(join(from, dir)).mode & 0o7777);
    }
  }
  const src = join(from, rel);
  const dest = join(to, rel);
  const st = lstatSync(src);
  if (st.isDirectory()) {
    if (!existsSync(dest)) mkdirSync(dest);
    chmodSync(dest, st.mode & 0o7777);
  } else cpSync(src, dest, { verbatimSymlinks: true, preserveTimestamps: true });
}

export async function doPackage(d: DataStore, ctx: TaskContext): Promise<void> {
  const pn = str(d, "PN");
  const D = str(d, "D");
  const pkgd = str(d, "PKGD");
  const pkgdest = str(d, "PKGDEST");
  const pkgdestwork = str(d, "PKGDESTWORK");
  for (const dir of [pkgd, pkgdest, pkgdestwork]) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
  }
  if (existsSync(D)) cpSync(D, pkgd, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  for (const f of words(d.getVar("PACKAGE_PREPROCESS_FUNCS"))) await ctx.execFunc(f);

  const packages = words(d.getVar("PACKAGES"));
  const entries = listTree(pkgd);
  const split = splitTree(
    entries,
    packages.map((name) => ({ name, patterns: words(d.getVar(`FILES:${name}`)) })),
  );
  if (split.unshipped.length) {
    ctx.warn(`QA Issue: ${pn}: Files/directories were installed but not shipped in any package:\n  ${split.unshipped.map((f) => `/${f}`).join("\n  ")}\n` +
      "Please set FILES such that these items are packaged. [installed-vs-shipped]");
  }

  const data: PackageData[] = [];
  const shlibs: { soname: string; pkg: string; version: string }[] = [];
  const needs = new Map<string, Map<string, string[]>>();
  const kept: string[] = [];
  const recipe = { PN: pn, PE: str(d, "PE"), PV: str(d, "PV"), PR: str(d, "PR") };
  for (const pkg of packages) {
    const rels = split.packages.get(pkg) ?? [];
    const root = join(pkgdest, pkg);
    mkdirSync(root, { recursive: true });
    const files: Record<string, number> = {};
    let size = 0;
    for (const rel of rels) {
      copyEntry(pkgd, root, rel);
      const st = lstatSync(join(root, rel));
      files[`/${rel}`] = st.isFile() ? st.size : 0;
      if (st.isFile()) size += st.size;
      if (!st.isFile()) continue;
      const elf = readElfDynamic(join(root, rel));
      if (!elf) continue;
      if (elf.soname) shlibs.push({ soname: elf.soname, pkg, version: str(d, "PKGV") });
      for (const lib of elf.needed) {
        const users = needs.get(pkg) ?? new Map<string, string[]>();
        users.set(lib, [...(users.get(lib) ?? []), `/${rel}`]);
        needs.set(pkg, users);
      }
    }
    const empty = !rels.some((r) => !lstatSync(join(root, r)).isDirectory());
    if (empty && packageVar(d, "ALLOW_EMPTY", pkg) !== "1") {
      ctx.log(`Package ${pkg} is empty: not created (set ALLOW_EMPTY:${pkg} = "1" to keep it)`);
      continue;
    }
    kept.push(pkg);
    const vars: Partial<Record<PackageVar, string>> = {};
    for (const v of PACKAGE_VARS) {
      const value = packageVar(d, v, pkg);
      if (value !== undefined) vars[v] = value.trim();
    }
    vars.PKG ??= pkg;
    data.push({ pn, pkg, recipe, vars, files, size });
  }

  // runtime dependencies on this recipe's dropped packages go (PN-dev on an empty PN)
  const dropped = new Set(packages.filter((p) => !kept.includes(p)));
  // shared libraries: this recipe's own first, then what dependencies published
  const providers = sharedLibraryProviders(str(d, "PKGDATA_DIR"));
  for (const s of shlibs) providers.set(s.soname, { pkg: s.pkg, version: s.version });
  for (const p of data) {
    const deps = explodeDepVersions(p.vars.RDEPENDS);
    for (const name of [...deps.keys()]) if (dropped.has(name)) deps.delete(name);
    for (const [lib, users] of needs.get(p.pkg) ?? []) {
      const provider = providers.get(lib);
      if (!provider) {
        ctx.log(`No package provides ${lib} (needed by ${users.join(", ")}): assumed to come from the system`);
        continue;
      }
      if (provider.pkg !== p.pkg && !deps.has(provider.pkg)) {
        deps.set(provider.pkg, []);
        ctx.log(`${p.pkg}: RDEPENDS on ${provider.pkg} for ${lib}`);
      }
    }
    p.vars.RDEPENDS = [...deps].map(([n, cs]) => (cs.length ? cs.map((c) => `${n} (${c})`).join(" ") : n)).join(" ");
  }
  writePackageData(pkgdestwork, pn, kept, data, shlibs.filter((s) => kept.includes(s.pkg)));
}
