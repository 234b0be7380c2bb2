/**
 * Writing a .deb (the format dpkg reads): @kiln/package's ar layout with dpkg's
 * additions — an `md5sums` control member and `Installed-Size` in KiB after `Maintainer`.
 */
import { writeArPackage, type ArPackageSpec } from "@kiln/package";

export type DebSpec = Omit<ArPackageSpec, "md5sums" | "installedSize">;

export function writeDeb(spec: DebSpec, out: string): Promise<void> {
  return writeArPackage({ ...spec, md5sums: true, installedSize: { after: "Maintainer", unit: "KiB" } }, out);
}
