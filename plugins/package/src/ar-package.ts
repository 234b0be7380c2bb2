/**
 * The archive layout deb and ipk share: an ar archive of `debian-binary` ("2.0"),
 * `control.tar.<ext>` (control, conffiles, maintainer scripts, md5sums for deb) and
 * `data.tar.<ext>` (the files, as `./path`). Deterministic — members sorted, owned
 * by root, mtimes = SOURCE_DATE_EPOCH — so the same input gives byte-identical
 * packages; written to a temp name and renamed.
 */
import { createHash } from "node:crypto";
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { packTar, treeMembers, writeAr, type TreeMember } from "@kiln/core";
import { collect, compress, type Compression } from "./compress.js";

export const MAINTAINER_SCRIPTS = ["preinst", "postinst", "prerm", "postrm"] as const;
export type MaintainerScript = (typeof MAINTAINER_SCRIPTS)[number];

export interface ArPackageSpec {
  /** Control fields in the order they are written. */
  control: [string, string][];
  /** The files of the package (becomes `./...` in data.tar). */
  root: string;
  scripts?: Partial<Record<MaintainerScript, string>>;
  /** Absolute paths inside the package that are configuration files. */
  conffiles?: string[];
  compression?: Compression;
  /** SOURCE_DATE_EPOCH: every mtime in the package. */
  mtime: number;
  /** Add an `md5sums` control member (dpkg's; opkg has none). */
  md5sums?: boolean;
  /** Add `Installed-Size` (KiB) after this field when the control lacks it (dpkg's; opkg uses bytes, as `Installed-Size` too). */
  installedSize?: { after: string; unit: "KiB" | "bytes" };
}

/** A control field value as the format wants it: continuation lines indented, empty ones as " .". */
export function fieldValue(value: string): string {
  const [first, ...rest] = value.replace(/\s+$/, "").split("\n");
  return [first, ...rest.map((l) => (l.trim() ? ` ${l.replace(/^\s+/, "")}` : " ."))].join("\n");
}

/** `Key: value` lines of a control stanza. */
export function controlText(fields: [string, string][]): string {
  return fields.map(([k, v]) => `${k}: ${fieldValue(v)}\n`).join("");
}

const fileMember = (name: string, content: string, mode = 0o644): TreeMember => ({ name, path: "", type: "file", mode, content: Buffer.from(content) });

/** A maintainer script as written into the package: a body gets `#!/bin/sh` and `set -e` unless it has its own `#!`. */
export function scriptText(body: string): string {
  return body.startsWith("#!") ? `${body.replace(/\n*$/, "")}\n` : `#!/bin/sh\nset -e\n${body.replace(/\n*$/, "")}\n`;
}

export async function writeArPackage(spec: ArPackageSpec, out: string): Promise<void> {
  const compression = spec.compression ?? "xz";
  const files = treeMembers(spec.root, ".", { slashDirs: true });
  const data: TreeMember[] = [{ name: "./", path: spec.root, type: "directory", mode: 0o755 }, ...files];
  const regular = files.filter((f) => f.type === "file");

  const fields = [...spec.control];
  if (spec.installedSize && !fields.some(([k]) => k === "Installed-Size")) {
    const bytes = regular.reduce((n, f) => n + statSync(f.path).size, 0);
    const value = spec.installedSize.unit === "KiB" ? Math.ceil(bytes / 1024) : bytes;
    const at = fields.findIndex(([k]) => k === spec.installedSize?.after);
    fields.splice(at < 0 ? fields.length : at + 1, 0, ["Installed-Size", String(value)]);
  }
  const controlMembers: TreeMember[] = [
    { name: "./", path: "", type: "directory", mode: 0o755 },
    ...(spec.conffiles?.length ? [fileMember("./conffiles", spec.conffiles.map((c) => `${c}\n`).join(""))] : []),
    fileMember("./control", controlText(fields)),
    ...(spec.md5sums
      ? [fileMember("./md5sums", regular.map((f) => `${createHash("md5").update(readFileSync(f.path)).digest("hex")}  ${f.name.slice(2)}\n`).join(""))]
      : []),
    ...MAINTAINER_SCRIPTS.filter((s) => spec.scripts?.[s]).map((s) => fileMember(`./${s}`, scriptText(spec.scripts?.[s] ?? ""), 0o755)),
  ];
  const [controlTar, dataTar] = await Promise.all([
    collect(packTar(controlMembers, spec.mtime)).then((b) => compress(b, compression)),
    collect(packTar(data, spec.mtime)).then((b) => compress(b, compression)),
  ]);
  const archive = writeAr(
    [
      { name: "debian-binary", data: Buffer.from("2.0\n") },
      { name: `control.tar.${compression}`, data: controlTar },
      { name: `data.tar.${compression}`, data: dataTar },
    ],
    spec.mtime,
  );
  const tmp = `${out}.tmp.${process.pid}`;
  try {
    writeFileSync(tmp, archive);
    renameSync(tmp, out);
  } finally {
    rmSync(tmp, { force: true });
  }
}
