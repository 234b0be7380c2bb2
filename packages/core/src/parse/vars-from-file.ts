import { basename, extname } from "node:path";
import { KilnError } from "../errors.js";

/** bb.parse.vars_from_file: [PN, PV, PR] from `name_version_revision.bb`. */
export function varsFromFile(file: string | undefined): [string | undefined, string | undefined, string | undefined] {
  if (!file || !/\.(bb|bbappend)$/.test(file)) return [undefined, undefined, undefined];
  const parts = basename(file, extname(file)).split("_");
  if (parts.length > 3) {
    throw new KilnError("PARSE_ERROR", `${file}: unable to generate default variables from the file name (too many underscores)`);
  }
  return [parts[0], parts[1], parts[2]];
}
