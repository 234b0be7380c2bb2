/**
 * What a package format must supply for an image to be built from its packages: a
 * small adapter per IMAGE_PKGTYPE (deb, ipk, rpm), registered by type. The image
 * task owns the policy — resolution, install order, conflicts between packages,
 * maintainer scripts, the image files — and asks the adapter only to find a
 * package's file, open it, and record what was installed in its own database.
 */
import type { DataStore, Kiln, TaskContext } from "@kiln/core";
import type { ResolvedPackage } from "./resolve.js";

export const MAINTAINER_SCRIPTS = ["preinst", "postinst", "prerm", "postrm"] as const;
export type MaintainerScript = (typeof MAINTAINER_SCRIPTS)[number];

export interface MemberInfo {
  mode: number;
  /** Seconds since the epoch. */
  mtime: number;
}

/** A package file opened for installation. */
export interface OpenedPackage {
  file: string;
  /** Name, version and architecture as the format spells them (the manifest's columns). */
  name: string;
  version: string;
  arch: string;
  /** The control stanza as the format's database stores it (deb/ipk `control`; rpm: a summary). */
  control: string;
  scripts: Partial<Record<MaintainerScript, string>>;
  /** Absolute paths of configuration files. */
  conffiles: string[];
  /** Other control members the database keeps (deb `md5sums`, ...), by member name. */
  extra: Record<string, Buffer>;
  /** Unpack the payload into `dest` (an empty directory) with core's safe extractor. */
  extract(dest: string): Promise<void>;
  /**
   * Mode and mtime of every payload member, by path without `./`: core's extractor
   * creates directories with default modes and sets no mtimes, and the rootfs keeps
   * the package's (so `rpm -V` and `dpkg -V` agree with it).
   */
  members(): Promise<Map<string, MemberInfo>>;
}

export interface InstalledFile {
  /** Absolute path inside the root filesystem (`/usr/bin/x`). */
  path: string;
  type: "file" | "directory" | "symlink";
}

export interface InstalledPackage {
  resolved: ResolvedPackage;
  opened: OpenedPackage;
  /** Every path the package installed, in payload order (directories first). */
  files: InstalledFile[];
  /** Deferred postinst (it asked to run on the target). */
  deferred: boolean;
}

export interface RootfsContext {
  d: DataStore;
  ctx: TaskContext;
  rootfs: string;
  /** DEPLOY_DIR_<TYPE>. */
  deployDir: string;
  /** SOURCE_DATE_EPOCH, for timestamps the database records. */
  epoch: number;
}

export interface RootfsBackend {
  /** IMAGE_PKGTYPE this adapter reads: `deb` → DEPLOY_DIR_DEB, do_package_write_deb. */
  type: string;
  /** The tap name of the plugin that registered it. */
  plugin: string;
  /** Whether an unversioned Provides satisfies a versioned dependency (rpm: yes; dpkg, opkg: no). */
  unversionedProvideSatisfies: boolean;
  /** Arguments of the maintainer scripts run at rootfs time, as the format's package manager passes them. */
  scriptArgs: { preinst: string[]; postinst: string[] };
  /** Extra environment of maintainer scripts (e.g. opkg's OPKG_OFFLINE_ROOT). */
  scriptEnv?(rootfs: string): Record<string, string>;
  /** Called once before the packages are located (read feed indexes). */
  prepare?(rc: RootfsContext): Promise<void>;
  /** The file of `p` in `deployDir`; throws a KilnError naming the package when there is none. */
  locate(p: ResolvedPackage, rc: RootfsContext): string;
  open(file: string, p: ResolvedPackage, rc: RootfsContext): Promise<OpenedPackage>;
  /** Record the installed packages (install order) in the format's database inside the rootfs. */
  writeDatabase(installed: InstalledPackage[], rc: RootfsContext): Promise<void>;
}

const backends = new WeakMap<Kiln, Map<string, RootfsBackend>>();

/** Make IMAGE_PKGTYPE = `b.type` buildable (a package-format plugin may call this for its own format). */
export function registerRootfsBackend(kiln: Kiln, b: RootfsBackend): void {
  const map = backends.get(kiln) ?? new Map<string, RootfsBackend>();
  backends.set(kiln, map);
  map.set(b.type, b);
}

export function rootfsBackend(kiln: Kiln, type: string): RootfsBackend | undefined {
  return backends.get(kiln)?.get(type);
}

export function rootfsBackendTypes(kiln: Kiln): string[] {
  return [...(backends.get(kiln)?.keys() ?? [])].sort();
}
