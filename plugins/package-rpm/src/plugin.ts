/**
 * do_package_write_rpm: each package do_package kept as an .rpm (rpm.ts) in
 * DEPLOY_DIR_RPM/<arch>/ (through shared state); `repodata/` beside them when
 * createrepo_c is installed (the one well-kept tool for it), otherwise noted.
 */
import { loadExeca } from "@kiln/core";
import { join } from "node:path";
import { withLocks, type DataStore, type Kiln, type KilnPlugin } from "@kiln/core";
import { archDir, registerPackageWriter, type DependencyList, type PackageToWrite } from "@kiln/package";
import { rpmVersion, writeRpm, type RpmCompression, type RpmDependency } from "./rpm.js";

export const PLUGIN_NAME = "kiln:package-rpm";

/** rpm's architecture name: `all` is `noarch`, `-` is not allowed. */
export const rpmArch = (arch: string) => (arch === "all" ? "noarch" : archDir(arch));

function dependencies(list: DependencyList): RpmDependency[] {
  const out: RpmDependency[] = [];
  for (const [name, constraints] of list) {
    if (!constraints.length) out.push({ name });
    for (const c of constraints) {
      const [flags, ...version] = c.split(/\s+/);
      out.push({ name, flags: flags as RpmDependency["flags"], version: version.join(" ") });
    }
  }
  return out;
}

export async function writeRpmFor(p: PackageToWrite, dir: string, d: DataStore): Promise<string> {
  const v = rpmVersion(p.version.version, p.version.revision, p.version.epoch);
  const arch = rpmArch(p.arch);
  const file = join(dir, `${p.name}-${v.version}-${v.release}.${arch}.rpm`);
  const src = rpmVersion(String(d.getVar("PV")), String(d.getVar("PR")));
  await writeRpm(
    {
      name: p.name,
      ...v,
      arch,
      summary: p.summary,
      description: p.description,
      license: p.license,
      group: p.section,
      ...(p.homepage ? { url: p.homepage } : {}),
      packager: p.maintainer,
      buildTime: p.mtime,
      sourceRpm: `${p.pn}-${src.version}-${src.release}.src.rpm`,
      root: p.root,
      requires: dependencies(p.depends.rdepends),
      recommends: dependencies(p.depends.rrecommends),
      provides: dependencies(p.depends.rprovides),
      conflicts: dependencies(p.depends.rconflicts),
      // OpenEmbedded writes RREPLACES as Obsoletes
      obsoletes: dependencies(p.depends.rreplaces),
      scripts: { prein: p.scripts.preinst, postin: p.scripts.postinst, preun: p.scripts.prerm, postun: p.scripts.postrm },
      conffiles: p.conffiles,
      compression: String(d.getVar("PACKAGE_RPM_COMPRESSION") ?? "xz") as RpmCompression,
    },
    file,
  );
  return file;
}

let createrepo: Promise<boolean> | undefined;
const hasCreaterepo = () =>
  (createrepo ??= loadExeca().then((execa) => execa("createrepo_c", ["--version"])).then(
    () => true,
    () => false,
  ));

/** `repodata/` for one architecture directory, with createrepo_c when it is installed. */
async function writeRepodata(dir: string, kiln: Kiln): Promise<void> {
  if (!(await hasCreaterepo())) {
    kiln.hooks.log.call({ type: "Log", level: "note", message: `createrepo_c is not installed: no repodata in ${dir}`, time: Date.now() });
    return;
  }
  await withLocks([join(dir, ".index.lock")], async () => {
    await (await loadExeca())("createrepo_c", ["--quiet", "--update", "--no-database", "--excludes", "*.tmp.*", dir]);
  });
}

export const plugin: KilnPlugin<Kiln> = {
  name: PLUGIN_NAME,
  apply(kiln) {
    registerPackageWriter(kiln, { type: "rpm", plugin: PLUGIN_NAME, classFile: new URL("../classes/package_rpm.bbclass", import.meta.url), write: writeRpmFor, dirName: rpmArch, index: (dir) => writeRepodata(dir, kiln) });
  },
};
