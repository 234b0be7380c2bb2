/**
 * What every do_package_write_<type> shares: the packages do_package kept (pkgdata
 * in ${PKGDESTWORK}, files in ${PKGDEST}/<pkg>), with their versions, runtime
 * relationships, scripts and conffiles read back, handed one by one to the format's
 * writer, which puts its file under `${WORKDIR}/deploy-<type>s/<arch>/`.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { explodeDepVersions, KilnError, type DataStore, type TaskContext } from "@kiln/core";
import { parsePackageData, type PackageData } from "./pkgdata.js";
import type { DependencyList, PackageVersion } from "./versions.js";
import type { MaintainerScript } from "./ar-package.js";

export interface PackageToWrite {
  name: string;
  pn: string;
  data: PackageData;
  /** The package's files (${PKGDEST}/<pkg>). */
  root: string;
  version: PackageVersion;
  /** PACKAGE_ARCH as BitBake names it (`all` for architecture-independent packages). */
  arch: string;
  summary: string;
  description: string;
  section: string;
  license: string;
  homepage: string;
  maintainer: string;
  priority: string;
  depends: Record<"rdepends" | "rrecommends" | "rsuggests" | "rprovides" | "rconflicts" | "rreplaces", DependencyList>;
  scripts: Partial<Record<MaintainerScript, string>>;
  conffiles: string[];
  /** SOURCE_DATE_EPOCH: every mtime in the package. */
  mtime: number;
}

/** Where a package type's task writes: `${WORKDIR}/deploy-<type>s` (its sstate input), arch subdirectories below. */
export const deployWorkDir = (d: DataStore, type: string) => join(String(d.getVar("WORKDIR")), `deploy-${type}s`);

/** The directory name of an architecture in a feed (`-` is not welcome in rpm's and opkg's). */
export const archDir = (arch: string) => arch.replace(/-/g, "_");

const SCRIPTS: [MaintainerScript, string][] = [
  ["preinst", "pkg_preinst"],
  ["postinst", "pkg_postinst"],
  ["prerm", "pkg_prerm"],
  ["postrm", "pkg_postrm"],
];

export function packagesToWrite(d: DataStore): PackageToWrite[] {
  const pn = String(d.getVar("PN"));
  const work = String(d.getVar("PKGDESTWORK"));
  const list = join(work, pn);
  if (!existsSync(list)) throw new KilnError("TASK_ERROR", `${pn}: no pkgdata in ${work}: do_package has not run`);
  const names = (/^PACKAGES: ?(.*)$/m.exec(readFileSync(list, "utf8"))?.[1] ?? "").split(/\s+/).filter(Boolean);
  const mtime = Number.parseInt(String(d.getVar("SOURCE_DATE_EPOCH") ?? "0"), 10) || 0;
  return names.map((pkg) => {
    const file = join(work, "runtime", pkg);
    const data = parsePackageData(readFileSync(file, "utf8"), pkg, file);
    const v = data.vars;
    const deps = (x: string | undefined) => {
      try {
        return explodeDepVersions(x);
      } catch (err) {
        throw new KilnError("TASK_ERROR", `${pkg}: ${(err as Error).message}`);
      }
    };
    return {
      name: v.PKG || pkg,
      pn,
      data,
      root: join(String(d.getVar("PKGDEST")), pkg),
      version: { epoch: v.PKGE ?? "", version: v.PKGV ?? data.recipe.PV ?? "", revision: v.PKGR ?? data.recipe.PR ?? "" },
      arch: v.PACKAGE_ARCH || String(d.getVar("PACKAGE_ARCH")),
      summary: v.SUMMARY || pkg,
      description: v.DESCRIPTION || v.SUMMARY || pkg,
      section: v.SECTION || "base",
      license: v.LICENSE || "unknown",
      homepage: v.HOMEPAGE ?? "",
      maintainer: String(d.getVar("MAINTAINER") ?? "kiln <kiln@localhost>"),
      priority: String(d.getVar("PRIORITY") ?? "optional"),
      depends: {
        rdepends: deps(v.RDEPENDS),
        rrecommends: deps(v.RRECOMMENDS),
        rsuggests: deps(v.RSUGGESTS),
        rprovides: deps(v.RPROVIDES),
        rconflicts: deps(v.RCONFLICTS),
        rreplaces: deps(v.RREPLACES),
      },
      scripts: Object.fromEntries(SCRIPTS.filter(([, k]) => v[k as keyof typeof v]).map(([s, k]) => [s, String(v[k as keyof typeof v])])),
      conffiles: (v.CONFFILES ?? "").split(/\s+/).filter(Boolean),
      mtime,
    };
  });
}

/** The extended description, unless it only repeats the synopsis (OE's default DESCRIPTION is "${SUMMARY}."). */
export function extendedDescription(p: PackageToWrite): string {
  const d = p.description.trim();
  return d && d.replace(/\.$/, "") !== p.summary.replace(/\.$/, "") ? `\n${d}` : "";
}

/** do_package_write_<type>: every kept package through `write` into a fresh deploy work dir. */
export async function writePackagesTask(
  d: DataStore,
  ctx: TaskContext,
  type: string,
  write: (p: PackageToWrite, outDir: string) => Promise<string>,
  dirName: (arch: string) => string = archDir,
): Promise<void> {
  const out = deployWorkDir(d, type);
  rmSync(out, { recursive: true, force: true });
  for (const p of packagesToWrite(d)) {
    const dir = join(out, dirName(p.arch));
    mkdirSync(dir, { recursive: true });
    const file = await write(p, dir);
    ctx.log(`wrote ${file}`);
  }
}
