/**
 * Versions, architectures and dependency lists as each package format spells them.
 * BitBake's side: PKGE (epoch, may be empty), PKGV, PKGR; dependency lists as
 * `name (op version)` with BitBake's operators `<`, `<=`, `=`, `>=`, `>`.
 */
export interface PackageVersion {
  epoch: string;
  version: string;
  revision: string;
}

/** Characters a Debian/opkg version allows; anything else becomes `+`. */
const DEB_VERSION_CHARS = /[^A-Za-z0-9.+~-]/g;

/**
 * `[epoch:]upstream-revision` as dpkg (and opkg) want it: the upstream part must start
 * with a digit (a `0` is put before one that does not), `-` stays (the last one
 * splits off the revision, which kiln always writes), `~` sorts before anything.
 */
export function debianVersion(v: PackageVersion): string {
  let upstream = v.version.replace(DEB_VERSION_CHARS, "+");
  if (!/^[0-9]/.test(upstream)) upstream = `0${upstream}`;
  const revision = v.revision.replace(DEB_VERSION_CHARS, "+").replace(/-/g, "+") || "0";
  const epoch = /^[0-9]+$/.test(v.epoch) ? `${v.epoch}:` : "";
  return `${epoch}${upstream}-${revision}`;
}

/** Debian's architecture names for the GNU ones BitBake uses; `all` stays. */
const DEBIAN_ARCHES: [RegExp, string][] = [
  [/^x86_64$/, "amd64"],
  [/^i[3-6]86$/, "i386"],
  [/^aarch64$/, "arm64"],
  [/^aarch64_be$/, "arm64be"],
  [/^arm.*eb$/, "armeb"],
  [/^arm/, "armhf"],
  [/^powerpc64le$|^ppc64le$/, "ppc64el"],
  [/^powerpc64$|^ppc64$/, "ppc64"],
  [/^powerpc$/, "powerpc"],
  [/^mips64el$/, "mips64el"],
  [/^mipsel$/, "mipsel"],
  [/^riscv64$/, "riscv64"],
];

export function debianArch(arch: string): string {
  if (arch === "all") return "all";
  return DEBIAN_ARCHES.find(([re]) => re.test(arch))?.[1] ?? arch;
}

/** One dependency with its constraints (`>= 1.0`), as explodeDepVersions gives them. */
export type DependencyList = Map<string, string[]>;

/**
 * A dpkg/opkg relationship field: `a (>= 1.0), b`. Strict `<`/`>` are dpkg's `<<`/`>>`
 * (dpkg reads a bare `<` as `<=`, which is not what BitBake meant).
 */
export function debianDepends(deps: DependencyList): string {
  const op = (o: string) => (o === "<" ? "<<" : o === ">" ? ">>" : o);
  const out: string[] = [];
  for (const [name, constraints] of deps) {
    if (!constraints.length) out.push(name);
    for (const c of constraints) {
      const [o, ...rest] = c.split(/\s+/);
      out.push(`${name} (${op(o)} ${rest.join(" ")})`);
    }
  }
  return out.join(", ");
}
