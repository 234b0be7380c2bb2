/**
 * sstate objects (DESIGN §6): `SSTATE_DIR/<hash[0:2]>/<SSTATE_PKGSPEC><taskhash>_<task>.tar.zst`
 * beside a `.sha256`; created through a temp name so a killed build never leaves a
 * partial object where another build would look; verified before use, and an
 * object that fails verification is moved aside (`.bad`) and never used again.
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DataStore } from "@kiln/core";
import { KilnError } from "@kiln/core";
import { compressionOf, createArchive, EXTENSION, extractArchive, FIXMEPATH, type ArchiveRoot, type Compression } from "./archive.js";
import { sha256File, tempName, writeAtomic } from "./files.js";

const words = (v: unknown) => (v === undefined || v === null ? [] : String(v).split(/\s+/).filter(Boolean));

export interface SstateTask {
  task: string;
  owner: string;
  taskhash: string;
  inputdirs: string[];
  outputdirs: string[];
  plaindirs: string[];
  /** One manifest per input/output pair: `${SSTATE_MANIFESTS}/manifest-<arch>-<pn>.<task>[.<n>]`. */
  manifests: string[];
  object: string;
  /** SSTATE_ALLOW_OVERLAP_FILES: paths (or directories) two recipes may both install. */
  allowOverlap: string[];
}

export function objectPath(sstateDir: string, pkgspec: string, taskhash: string, task: string, compression: Compression = "zstd"): string {
  return join(sstateDir, taskhash.slice(0, 2), `${pkgspec}${taskhash}_${task.replace(/^do_/, "")}.${EXTENSION[compression]}`);
}

/** SSTATE_COMPRESSION: zstd (default) or xz. */
export function compressionFor(d: DataStore): Compression {
  const v = String(d.getVar("SSTATE_COMPRESSION") ?? "zstd");
  if (v === "zstd" || v === "xz") return v;
  throw new KilnError("USAGE_ERROR", `SSTATE_COMPRESSION is '${v}'; kiln knows zstd and xz`);
}

/** The tasks SSTATETASKS lists. */
export const sstateTaskNames = (d: DataStore): string[] => words(d.getVar("SSTATETASKS"));

/** The manifests of `task`'s shared trees: `${SSTATE_MANIFESTS}/manifest-<arch>-<pn>.<task>`, then `.1`, `.2`... for further output dirs. */
export function manifestsOf(d: DataStore, task: string, outputs = words(d.getVarFlag(task, "sstate-outputdirs")).length): string[] {
  const base = join(String(d.getVar("SSTATE_MANIFESTS")), `manifest-${d.getVar("SSTATE_PKGARCH")}-${d.getVar("PN")}.${task.replace(/^do_/, "")}`);
  return Array.from({ length: outputs }, (_, i) => (i === 0 ? base : `${base}.${i}`));
}

/**
 * do_cleansstate: every object of `d`'s recipe in SSTATE_DIR, whatever its taskhash
 * (`<hash[0:2]>/<SSTATE_PKGSPEC>*_<task>.*`, with .sha256/.siginfo/.sig siblings), for
 * every task SSTATETASKS lists; the paths removed.
 */
export function removeRecipeObjects(d: DataStore): string[] {
  const dir = String(d.getVar("SSTATE_DIR") ?? "");
  const spec = String(d.getVar("SSTATE_PKGSPEC") ?? "");
  if (!dir || !spec || !existsSync(dir)) return [];
  const suffixes = sstateTaskNames(d).map((task) => `_${String(d.getVarFlag(task, "sstate-name") ?? task).replace(/^do_/, "")}.`);
  const removed: string[] = [];
  for (const sub of readdirSync(dir)) {
    if (!/^[0-9a-f]{2}$/.test(sub)) continue;
    for (const name of readdirSync(join(dir, sub))) {
      if (!name.startsWith(spec)) continue;
      const rest = name.slice(spec.length);
      // <taskhash>_<task>.<ext>[.<sibling>]: the spec is followed by a hash, nothing else
      if (!/^[0-9a-f]+_/.test(rest) || !suffixes.some((s) => rest.includes(s))) continue;
      rmSync(join(dir, sub, name), { force: true });
      removed.push(join(dir, sub, name));
    }
  }
  return removed;
}

/** The sstate description of `task` in a task DataStore, if SSTATETASKS lists it. */
export function sstateTaskOf(d: DataStore, task: string): SstateTask | undefined {
  if (!sstateTaskNames(d).includes(task)) return undefined;
  const taskhash = String(d.getVar("BB_TASKHASH") ?? "");
  if (!taskhash) return undefined;
  const inputdirs = words(d.getVarFlag(task, "sstate-inputdirs"));
  const outputdirs = words(d.getVarFlag(task, "sstate-outputdirs"));
  if (inputdirs.length !== outputdirs.length) {
    throw new KilnError("FATAL", `${task}: [sstate-inputdirs] and [sstate-outputdirs] must pair up (${inputdirs.length} vs ${outputdirs.length} entries)`);
  }
  return {
    task,
    owner: `${d.getVar("PN")}:${task}`,
    taskhash,
    inputdirs,
    outputdirs,
    plaindirs: words(d.getVarFlag(task, "sstate-plaindirs")),
    manifests: manifestsOf(d, task, outputdirs.length),
    // [sstate-name] names the object (OE: "populate_sysroot"); the task name otherwise
    object: objectPath(String(d.getVar("SSTATE_DIR")), String(d.getVar("SSTATE_PKGSPEC") ?? ""), taskhash, String(d.getVarFlag(task, "sstate-name") ?? task), compressionFor(d)),
    allowOverlap: words(d.getVar("SSTATE_ALLOW_OVERLAP_FILES")),
  };
}

/** Placeholder for the build's TMPDIR inside objects (BitBake's FIXMESTAGINGDIR...). */
export const TMPDIR_PLACEHOLDER = "FIXMETMPDIR";

/** A text file (no NUL in its first 8 KiB) that names `path`: its content with the placeholder instead. */
export function relocatable(path: string): (file: string) => Buffer | undefined {
  const needle = Buffer.from(path);
  return (file) => {
    const buf = readFileSync(file);
    if (buf.subarray(0, 8192).includes(0) || !buf.includes(needle)) return undefined;
    return Buffer.from(buf.toString("utf8").split(path).join(TMPDIR_PLACEHOLDER));
  };
}

/** Put this build's TMPDIR back into the files an object's fixmepath lists. */
export function relocate(extracted: string, tmpdir: string): void {
  const list = join(extracted, FIXMEPATH);
  if (!existsSync(list)) return;
  for (const member of readFileSync(list, "utf8").split("\n").filter(Boolean)) {
    const file = join(extracted, member);
    if (!existsSync(file)) continue;
    writeFileSync(file, readFileSync(file, "utf8").split(TMPDIR_PLACEHOLDER).join(tmpdir));
  }
  rmSync(list);
}

/** Archive the task's inputdirs and plaindirs into its object, unless it exists already. */
export async function createObject(t: SstateTask, mtime: number, tmpdir?: string, signWith?: (tmp: string, sig: string) => Promise<void>): Promise<boolean> {
  if (existsSync(t.object)) return false;
  const roots: ArchiveRoot[] = [
    ...t.inputdirs.map((dir, i) => ({ prefix: `inputs/${i}`, dir })),
    ...t.plaindirs.map((dir, i) => ({ prefix: `plain/${i}`, dir })),
  ].filter((r) => existsSync(r.dir));
  const tmp = tempName(t.object);
  try {
    writeAtomic(`${tmp}.keep`, ""); // makes the shard directory
    rmSync(`${tmp}.keep`);
    await createArchive(roots, tmp, { mtime, compression: compressionOf(t.object), ...(tmpdir ? { rewrite: relocatable(tmpdir) } : {}) });
    const sum = await sha256File(tmp);
    writeAtomic(`${t.object}.sha256`, `${sum}\n`);
    if (signWith) {
      const sigTmp = `${tmp}.sig`;
      await signWith(tmp, sigTmp);
      renameSync(sigTmp, `${t.object}.sig`);
    }
    renameSync(tmp, t.object);
  } finally {
    rmSync(tmp, { force: true });
  }
  return true;
}

/** Verify and unpack an object into `dest`; a bad object is moved aside and an error thrown. */
export async function unpackObject(t: SstateTask, dest: string, verifySignature?: (file: string) => Promise<void>): Promise<void> {
  if (!existsSync(t.object)) throw new KilnError("NOT_FOUND", `no sstate object ${t.object}`);
  let expected: string | undefined;
  try {
    expected = readFileSync(`${t.object}.sha256`, "utf8").trim();
  } catch {
    expected = undefined;
  }
  const actual = await sha256File(t.object);
  if (!expected || expected !== actual) {
    renameSync(t.object, `${t.object}.bad`);
    throw new KilnError("FATAL", `sstate object ${t.object} failed verification (sha256 ${actual}, expected ${expected ?? "no .sha256 file"}); moved aside as .bad`);
  }
  if (verifySignature) {
    try {
      await verifySignature(t.object);
    } catch (err) {
      renameSync(t.object, `${t.object}.bad`);
      throw err;
    }
  }
  rmSync(dest, { recursive: true, force: true });
  await extractArchive(t.object, dest);
}
