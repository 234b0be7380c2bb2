/**
 * The configured suite, loaded once per parse: settings with the host's apt
 * configuration as defaults, the verified InRelease and Packages indexes, the
 * universe of packages (the lock's versions where debian.lock has them), and the
 * template every package recipe copies.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { KilnError, type DataStore, type Kiln } from "@kiln/core";
import { hostArchitecture, hostDebianDefaults } from "./apt-sources.js";
import { fetchPackagesFiles, fetchRelease, packagesText, type PackagesFile, type ReleaseFile, type SuiteConfig } from "./archive.js";
import { readLock, type DebianLock } from "./lock.js";
import { concatRows, indexRecords, type PackageRows } from "./packages-index.js";
import type { Universe } from "./resolve.js";
import { cachedUniverse } from "./universe-cache.js";

export interface Suite {
  cfg: SuiteConfig;
  prefix: string;
  release: ReleaseFile;
  /** The verified Packages indexes, one per component. */
  files: PackagesFile[];
  /** Every stanza of the indexes (all versions, the components in order), for the lock to find its versions in. */
  rows: PackageRows;
  universe: Universe;
  lock?: DebianLock;
  lockFile: string;
  /** Identifies the universe: the index texts, the lock and the architecture (a key for caches of what is computed from it). */
  universeKey: string;
  cacheDir: string;
}

const str = (d: DataStore, name: string) => String(d.getVar(name) ?? "").trim();
const words = (v: string) => v.split(/\s+/).filter(Boolean);

/**
 * DEBIAN_* from the configuration, the host's apt sources filling what is unset; the
 * values are written back into `d` so recipes and classes see what is used.
 */
export function suiteConfig(d: DataStore): SuiteConfig {
  let host: ReturnType<typeof hostDebianDefaults> | undefined;
  const fromHost = () => (host ??= hostDebianDefaults());
  const mirror = str(d, "DEBIAN_MIRROR") || fromHost().mirror || "";
  const suite = str(d, "DEBIAN_SUITE") || fromHost().suite || "";
  if (!mirror || !suite) {
    throw new KilnError("USAGE_ERROR", `@kiln/debian: no Debian ${mirror ? "suite" : "mirror"}: DEBIAN_${mirror ? "SUITE" : "MIRROR"} is not set and the host's apt sources have no deb entry`, {
      hint: 'set DEBIAN_MIRROR = "http://<mirror>/debian" and DEBIAN_SUITE = "bookworm" in local.conf',
    });
  }
  const components = words(str(d, "DEBIAN_COMPONENTS"));
  const cfg: SuiteConfig = {
    mirror: mirror.replace(/\/+$/, ""),
    suite,
    components: components.length ? components : ["main"],
    arch: str(d, "DEBIAN_ARCH") || hostArchitecture(),
    keyring: str(d, "DEBIAN_KEYRING") || fromHost().keyring || "/usr/share/keyrings/debian-archive-keyring.gpg",
  };
  d.setVar("DEBIAN_MIRROR", cfg.mirror);
  d.setVar("DEBIAN_SUITE", cfg.suite);
  d.setVar("DEBIAN_COMPONENTS", cfg.components.join(" "));
  d.setVar("DEBIAN_ARCH", cfg.arch);
  d.setVar("DEBIAN_KEYRING", cfg.keyring);
  return cfg;
}

export const recipePrefix = (d: DataStore) => (d.getVar("DEBIAN_RECIPE_PREFIX") === undefined || d.getVar("DEBIAN_RECIPE_PREFIX") === null ? "debian-" : str(d, "DEBIAN_RECIPE_PREFIX"));

export function lockFile(d: DataStore): string {
  return str(d, "DEBIAN_LOCK_FILE") || join(str(d, "TOPDIR"), "debian.lock");
}

export async function loadSuite(kiln: Kiln, d: DataStore): Promise<Suite> {
  const cfg = suiteConfig(d);
  const release = await fetchRelease(kiln, d, cfg);
  const files = await fetchPackagesFiles(kiln, d, cfg, release);
  const cacheDir = str(d, "CACHE") || join(str(d, "TMPDIR"), "cache");
  const rows = concatRows(await Promise.all(files.map((f) => indexRecords(cacheDir, f.textSha256, `${cfg.suite} ${f.path}`, () => packagesText(f)))));
  const file = lockFile(d);
  // `kiln debian lock --update` resolves from the suite's versions, ignoring the lock
  const lock = existsSync(file) && str(d, "DEBIAN_LOCK_IGNORE") !== "1" ? readLock(file) : undefined;
  // a lock pins versions: its records replace whatever the index has for those names (the
  // last of a name, as a Map of them would keep)
  const pinned = lock ? [...new Map(lock.packages.map((p) => [p.name, p])).values()] : undefined;
  const universeKey = createHash("sha256")
    .update(JSON.stringify([files.map((f) => f.textSha256), lock ? pinned?.map((p) => [p.name, p.version, p.sha256, p.arch]) : null, cfg.arch]))
    .digest("hex");
  const universe = cachedUniverse(join(cacheDir, "debian", `universe-${universeKey}.v8`), { rows, pinned }, cfg.arch);
  return { cfg, prefix: recipePrefix(d), release, files, rows, universe, lock, lockFile: file, universeKey, cacheDir };
}
