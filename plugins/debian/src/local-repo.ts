/**
 * The local apt repository (DEBIAN_LOCAL_REPO): `pool/` is DL_DIR's copy of the
 * archive's pool (the .debs as fetched, same paths), and `dists/<suite>/` holds
 * Packages indexes and a Release generated for every package a rootfs of this build
 * used (the union over rootfs recipes, kept in `packages.json`). Unsigned: point apt
 * at it with `deb [trusted=yes] file:<repo> <suite> main`.
 */
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { compress } from "@kiln/package";
import { writeAtomic } from "./archive.js";
import type { Suite } from "./suite.js";
import type { DebianPackage } from "./types.js";

const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

/** A Packages stanza of `p`, fields in the archive's order, absent ones left out. */
export function packagesStanza(p: DebianPackage): string {
  const fields: [string, string | number][] = [
    ["Package", p.name],
    ["Source", p.source !== p.name ? p.source : ""],
    ["Version", p.version],
    ["Installed-Size", p.installedSize || ""],
    ["Architecture", p.arch],
    ["Multi-Arch", p.multiArch],
    ["Essential", p.essential ? "yes" : ""],
    ["Provides", p.provides],
    ["Pre-Depends", p.preDepends],
    ["Depends", p.depends],
    ["Recommends", p.recommends],
    ["Conflicts", p.conflicts],
    ["Breaks", p.breaks],
    ["Description", p.summary],
    ["Section", p.section],
    ["Priority", p.priority],
    ["Filename", p.filename],
    ["Size", p.size],
    ["SHA256", p.sha256],
  ];
  return fields.filter(([, v]) => v !== "").map(([k, v]) => `${k}: ${v}\n`).join("");
}

/** `link` -> `target`, replaced through a temp name when it points elsewhere. */
function ensureLink(link: string, target: string): void {
  if (existsSync(link) && lstatSync(link).isSymbolicLink() && readlinkSync(link) === target) return;
  const tmp = `${link}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  symlinkSync(target, tmp);
  if (existsSync(link) && !lstatSync(link).isSymbolicLink()) throw new Error(`${link} exists and is not a link: remove it`);
  renameSync(tmp, link);
}

export async function writeLocalRepo(repo: string, dlDebian: string, suite: Suite, packages: { pkg: DebianPackage }[]): Promise<void> {
  mkdirSync(repo, { recursive: true });
  mkdirSync(join(dlDebian, "pool"), { recursive: true });
  ensureLink(join(repo, "pool"), join(dlDebian, "pool"));
  const known = join(repo, "packages.json");
  const records = new Map<string, DebianPackage>();
  if (existsSync(known)) for (const p of JSON.parse(readFileSync(known, "utf8")) as DebianPackage[]) records.set(`${p.name}_${p.version}_${p.arch}`, p);
  for (const { pkg } of packages) records.set(`${pkg.name}_${pkg.version}_${pkg.arch}`, pkg);
  const sorted = [...records.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.version < b.version ? -1 : 1));

  const { suite: name, arch } = suite.cfg;
  const dir = `main/binary-${arch}`;
  const text = Buffer.from(sorted.map(packagesStanza).join("\n"));
  const xz = await compress(text, "xz");
  const files: [string, Buffer][] = [
    [`${dir}/Packages`, text],
    [`${dir}/Packages.xz`, xz],
  ];
  const dists = join(repo, "dists", name);
  for (const [path, data] of files) writeAtomic(join(dists, path), data);
  const release = [
    `Origin: kiln`,
    `Label: kiln local repository`,
    `Suite: ${name}`,
    `Codename: ${name}`,
    // the upstream Release these packages came from: same date, so rebuilds match
    `Date: ${suite.release.date}`,
    `Architectures: ${arch}`,
    `Components: main`,
    `Description: packages of ${name} used by this build`,
    `SHA256:`,
    ...files.map(([path, data]) => ` ${sha256(data)} ${String(data.length).padStart(16)} ${path}`),
    "",
  ].join("\n");
  writeAtomic(join(dists, "Release"), release);
  writeAtomic(known, JSON.stringify(sorted));
}
