/** A DebianPackage record for tests: the fields an index stanza would give, defaults for the rest. */
import type { DebianPackage } from "../src/types.js";

export function debianPackage(name: string, o: Partial<DebianPackage> = {}): DebianPackage {
  const version = o.version ?? "1.0-1";
  const arch = o.arch ?? "amd64";
  return {
    name,
    version,
    arch,
    filename: `pool/main/${name[0]}/${name}/${name}_${version.replace(/^\d+:/, "")}_${arch}.deb`,
    sha256: "0".repeat(64),
    size: 1000,
    installedSize: 10,
    depends: "",
    preDepends: "",
    recommends: "",
    provides: "",
    conflicts: "",
    breaks: "",
    essential: false,
    priority: "optional",
    multiArch: "",
    section: "misc",
    source: name,
    summary: `${name} summary`,
    ...o,
  };
}
