/**
 * debian.lock: the resolved package set of a build, pinned — each package's record
 * as the index gave it (name, version, architecture, pool path, sha256, size and the
 * fields resolution reads) and the InRelease it came from (date, sha256). While it
 * exists, parsing uses these records instead of the index's newest versions, so the
 * same rootfs is built until `kiln debian lock --update`. JSON, sorted by name, one
 * package per line, so a change reads well in a diff.
 */
import { readFileSync } from "node:fs";
import { KilnError } from "@kiln/core";
import { writeAtomic } from "./archive.js";
import type { DebianPackage } from "./types.js";

export const LOCK_FORMAT = 1;

export interface DebianLock {
  format: number;
  mirror: string;
  suite: string;
  arch: string;
  /** The InRelease the records came from. */
  release: { date: string; sha256: string };
  packages: DebianPackage[];
}

const REQUIRED: (keyof DebianPackage)[] = ["name", "version", "arch", "filename", "sha256"];

export function readLock(file: string): DebianLock {
  let lock: DebianLock;
  try {
    lock = JSON.parse(readFileSync(file, "utf8")) as DebianLock;
  } catch (err) {
    throw new KilnError("PARSE_ERROR", `${file}: not a debian.lock (${(err as Error).message})`, { hint: "delete it and run `kiln debian lock TARGET` again", cause: err });
  }
  if (lock.format !== LOCK_FORMAT || !Array.isArray(lock.packages)) {
    throw new KilnError("PARSE_ERROR", `${file}: unknown debian.lock format ${String(lock.format)}`, { hint: "delete it and run `kiln debian lock TARGET` again" });
  }
  for (const [i, p] of lock.packages.entries()) {
    const missing = REQUIRED.filter((k) => typeof p[k] !== "string" || p[k] === "");
    if (missing.length) throw new KilnError("PARSE_ERROR", `${file}: package ${i + 1} (${p.name ?? "?"}) has no ${missing.join(", ")}`);
  }
  return lock;
}

export function writeLock(file: string, lock: DebianLock): void {
  const packages = [...lock.packages].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const head = JSON.stringify({ ...lock, packages: undefined }, null, 2).replace(/\n}$/, "");
  const body = packages.map((p) => `    ${JSON.stringify(p)}`).join(",\n");
  writeAtomic(file, `${head},\n  "packages": [\n${body}\n  ]\n}\n`);
}
