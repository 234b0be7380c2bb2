/**
 * Whether a metadata function was (last) defined in a given file — how a plugin that
 * supplies a class's task bodies leaves alone a recipe or layer that defines the
 * task itself (BitBake's `[filename]` flag follows every redefinition).
 */
import { existsSync, realpathSync } from "node:fs";
import type { DataStore } from "../data/datastore.js";

const real = (p: string) => (existsSync(p) ? realpathSync(p) : p);

export function definedIn(d: DataStore, name: string, file: string): boolean {
  const where = String(d.getVarFlag(name, "filename") ?? "");
  return where !== "" && real(where) === real(file);
}
