/**
 * One binary package of a Debian suite's Packages index: the fields kiln uses, as
 * the index spells them ("" when a field is absent). Relationship fields are kept
 * raw; relations.ts parses them.
 */
export interface DebianPackage {
  /** `Package`. */
  name: string;
  /** `Version`, the whole Debian version: `[epoch:]upstream[-revision]`. */
  version: string;
  /** `Architecture`: the suite's architecture or `all`. */
  arch: string;
  /** `Filename`: the pool path, relative to the mirror's root. */
  filename: string;
  /** `SHA256` of the .deb. */
  sha256: string;
  /** `Size` of the .deb in bytes. */
  size: number;
  /** `Installed-Size`, KiB. */
  installedSize: number;
  depends: string;
  preDepends: string;
  recommends: string;
  /** `Provides`, possibly versioned: `awk, mail-transport-agent (= 1.0)`. */
  provides: string;
  conflicts: string;
  breaks: string;
  /** `Essential: yes`. */
  essential: boolean;
  /** `Priority`: required, important, standard, optional, extra. */
  priority: string;
  /** `Multi-Arch`: same, foreign, allowed, or "". */
  multiArch: string;
  section: string;
  /** `Source` without its version (the package name when absent). */
  source: string;
  /** The first line of `Description`. */
  summary: string;
}
