/**
 * pkgdata, laid out as OpenEmbedded's so its users find their way around:
 * - `<pn>`: `PACKAGES: ...` of the recipe;
 * - `runtime/<pkg>`: `KEY: value` and `KEY:<pkg>: value` lines (values with
 *   newlines or backslashes escaped as `\n` and `\\`) — version, summary, runtime
 *   dependencies, scripts, FILES_INFO (JSON path → size), PKGSIZE;
 * - `runtime-rprovides/<name>/<pkg>`: who provides a runtime name;
 * - `shlibs2/<pn>.list`: `soname:pkg:version` for every library a package ships.
 * Written by do_package into PKGDESTWORK, published by do_packagedata into PKGDATA_DIR.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Variables kept per package (`KEY:<pkg>`), the ones writers and images read. */
export const PACKAGE_VARS = [
  "PKG", "PKGE", "PKGV", "PKGR", "PACKAGE_ARCH", "SUMMARY", "DESCRIPTION", "SECTION", "LICENSE", "HOMEPAGE",
  "RDEPENDS", "RRECOMMENDS", "RSUGGESTS", "RPROVIDES", "RCONFLICTS", "RREPLACES", "CONFFILES", "ALLOW_EMPTY",
  "pkg_preinst", "pkg_postinst", "pkg_prerm", "pkg_postrm",
] as const;
export type PackageVar = (typeof PACKAGE_VARS)[number];

export interface PackageData {
  pn: string;
  pkg: string;
  /** Recipe-level values: PN PE PV PR. */
  recipe: Record<string, string>;
  vars: Partial<Record<PackageVar, string>>;
  /** Path in the package → size in bytes (directories 0). */
  files: Record<string, number>;
  size: number;
}

const escape = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
const unescape = (v: string) => v.replace(/\\(\\|n)/g, (_, c: string) => (c === "n" ? "\n" : "\\"));

export function packageDataText(p: PackageData): string {
  const lines = Object.entries(p.recipe).map(([k, v]) => `${k}: ${escape(v)}`);
  for (const k of PACKAGE_VARS) {
    const v = p.vars[k];
    if (v !== undefined && v !== "") lines.push(`${k}:${p.pkg}: ${escape(v)}`);
  }
  lines.push(`FILES_INFO:${p.pkg}: ${JSON.stringify(p.files)}`);
  lines.push(`PKGSIZE:${p.pkg}: ${p.size}`);
  return `${lines.join("\n")}\n`;
}

export function parsePackageData(text: string, pkg: string, where: string): PackageData {
  const recipe: Record<string, string> = {};
  const vars: Partial<Record<PackageVar, string>> = {};
  let files: Record<string, number> = {};
  let size = 0;
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z_][\w-]*)(?::([^:\s]+))?: ?(.*)$/.exec(line);
    if (!m) continue;
    const [, key, forPkg, raw] = m;
    const value = unescape(raw);
    if (!forPkg) recipe[key] = value;
    else if (forPkg !== pkg) continue;
    else if (key === "FILES_INFO") {
      try {
        files = JSON.parse(raw) as Record<string, number>;
      } catch {
        throw new Error(`${where}: FILES_INFO is not valid JSON`);
      }
    } else if (key === "PKGSIZE") size = Number(value) || 0;
    else if ((PACKAGE_VARS as readonly string[]).includes(key)) vars[key as PackageVar] = value;
  }
  return { pn: recipe.PN ?? "", pkg, recipe, vars, files, size };
}

export function writePackageData(dir: string, pn: string, packages: string[], data: PackageData[], shlibs: { soname: string; pkg: string; version: string }[]): void {
  for (const sub of ["runtime", "runtime-rprovides", "shlibs2"]) mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(join(dir, pn), `PACKAGES: ${packages.join(" ")}\n`);
  for (const p of data) {
    writeFileSync(join(dir, "runtime", p.pkg), packageDataText(p));
    for (const name of (p.vars.RPROVIDES ?? "").split(/\s+/).filter((w) => w && !w.startsWith("("))) {
      if (name.endsWith(")")) continue;
      mkdirSync(join(dir, "runtime-rprovides", name), { recursive: true });
      writeFileSync(join(dir, "runtime-rprovides", name, p.pkg), "");
    }
  }
  writeFileSync(join(dir, "shlibs2", `${pn}.list`), shlibs.map((s) => `${s.soname}:${s.pkg}:${s.version}\n`).join(""));
}

/** The published pkgdata of `pkg`, or undefined when no recipe packaged it. */
export function readPackageData(pkgdataDir: string, pkg: string): PackageData | undefined {
  const file = join(pkgdataDir, "runtime", pkg);
  if (!existsSync(file)) return undefined;
  return parsePackageData(readFileSync(file, "utf8"), pkg, file);
}

/** Packages that RPROVIDE `name` according to pkgdata. */
export function runtimeProviders(pkgdataDir: string, name: string): string[] {
  const dir = join(pkgdataDir, "runtime-rprovides", name);
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** soname → providing package, from every recipe's shlibs2 list (published pkgdata). */
export function sharedLibraryProviders(pkgdataDir: string): Map<string, { pkg: string; version: string }> {
  const out = new Map<string, { pkg: string; version: string }>();
  const dir = join(pkgdataDir, "shlibs2");
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir).sort()) {
    for (const line of readFileSync(join(dir, f), "utf8").split("\n")) {
      const [soname, pkg, version] = line.split(":");
      if (soname && pkg) out.set(soname, { pkg, version: version ?? "" });
    }
  }
  return out;
}
