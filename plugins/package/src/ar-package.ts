/**
 * The archive layout deb and ipk share: an ar archive of `debian-binary` ("2.0"),
 * `control.tar.<ext>` (control, conffiles, maintainer scripts, md5sums for deb) and
 * `data.tar.<ext>` (the files, as `./path`). Deterministic — members sorted, owned
 * by root, mtimes = SOURCE_DATE_EPOCH — so the same input gives byte-identical
 * packages; written to a temp name and renamed.
 */
import { createHash, randomBytes, type Hash } from "node:crypto";
import { createReadStream, createWriteStream, readlinkSync, renameSync, rmSync, statSync } from "node:fs";
import { pipeline } from "node:stream/promises";
import { KilnError, packTar, writeAr, type TreeMember } from "@kiln/core";
import { collect, compress, compressToFile, type Compression } from "./compress.js";
import { walkTree } from "./tree.js";

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
  /** Compression level (default: the compressor's in DEFAULT_LEVEL: gz 9, xz 6, zst 19). */
  compressionLevel?: number;
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

/** A data.tar member; regular files carry the size seen when the tree was listed. */
type DataMember = TreeMember & { size: number };

/**
 * The tree under `root` as core's `treeMembers(root, ".", { slashDirs: true })` lists
 * it (sorted, `./usr/`, `./usr/bin/x`), with sizes, and an error for anything that is
 * not a file, directory or symlink: treeMembers skips a FIFO or a device silently, and
 * a package silently missing a file is worse than no package.
 */
function listMembers(root: string): DataMember[] {
  return walkTree(root).map(({ rel, path, stat }): DataMember => {
    if (stat.isSymbolicLink()) return { name: `./${rel}`, path, type: "symlink", mode: 0o777, linkname: readlinkSync(path), size: 0 };
    if (stat.isDirectory()) return { name: `./${rel}/`, path, type: "directory", mode: stat.mode & 0o7777, size: 0 };
    if (stat.isFile()) return { name: `./${rel}`, path, type: "file", mode: stat.mode & 0o7777, size: stat.size };
    throw new KilnError("FATAL", `${path}: not a regular file, directory or symlink; a package cannot hold it`, { hint: "remove it from the package's files (FIFOs, sockets and device nodes are created at install time)" });
  });
}

/**
 * data.tar as a stream (core's packTar), with each file's md5 taken as it streams
 * past, so md5sums needs no second read of the tree, and read errors naming the file.
 */
function dataTar(members: DataMember[], mtimeSeconds: number, md5sums?: string[]): NodeJS.ReadableStream {
  // md5 costs about as much CPU as the tar itself: only when md5sums are wanted.
  let md5: Hash | undefined;
  return packTar(members, mtimeSeconds, {
    observe: md5sums
      ? (m, chunk) => {
          if (chunk) (md5 ??= createHash("md5")).update(chunk);
          else {
            md5sums.push(`${(md5 ?? createHash("md5")).digest("hex")}  ${m.name.slice(2)}\n`);
            md5 = undefined;
          }
        }
      : undefined,
    readError: (m, cause) => new KilnError("FATAL", `cannot package ${m.path}: ${cause.message}`, { cause }),
  });
}

/**
 * The size of data.tar, closely enough to size compressor jobs (see compress.ts): a
 * header and the padded content per member, a pax header more for a long name.
 * Deterministic, as it must be: it shapes the output.
 */
function tarSize(members: DataMember[]): number {
  return members.reduce((n, m) => n + 512 + Math.ceil(m.size / 512) * 512 + (m.name.length > 100 || (m.linkname?.length ?? 0) > 100 ? 1536 : 0), 1024);
}

/** An ar member header as core's writeAr writes it (owner 0, mode 100644, one mtime). */
function arHeader(name: string, size: number, mtimeSeconds: number): Buffer {
  return Buffer.from(name.padEnd(16) + String(mtimeSeconds).padEnd(12) + "0".padEnd(6) + "0".padEnd(6) + "100644".padEnd(8) + String(size).padEnd(10) + "`\n", "latin1");
}

/**
 * Write the package to `out` (via a temp name: no partial `out` on failure). data.tar
 * streams through the compressor into a temp file beside `out` — memory stays flat
 * whatever the tree's size, and xz/zstd use every core — while md5sums are taken on
 * the way; then the ar is the small members, the data member's header, and that file.
 */
export async function writeArPackage(spec: ArPackageSpec, out: string): Promise<void> {
  const compression = spec.compression ?? "xz";
  const level = { level: spec.compressionLevel };
  // Listed first: a FIFO fails here, before any temp file exists (opening one would hang).
  const files = listMembers(spec.root);
  const data: DataMember[] = [{ name: "./", path: spec.root, type: "directory", mode: 0o755, size: 0 }, ...files];

  const fields = [...spec.control];
  if (spec.installedSize && !fields.some(([k]) => k === "Installed-Size")) {
    const bytes = files.reduce((n, f) => n + f.size, 0);
    const value = spec.installedSize.unit === "KiB" ? Math.ceil(bytes / 1024) : bytes;
    const at = fields.findIndex(([k]) => k === spec.installedSize?.after);
    fields.splice(at < 0 ? fields.length : at + 1, 0, ["Installed-Size", String(value)]);
  }

  const tag = `${process.pid}.${randomBytes(4).toString("hex")}`;
  const tmp = `${out}.${tag}.tmp`;
  const dataTmp = `${out}.${tag}.data.tmp`;
  try {
    const md5sums: string[] = [];
    await compressToFile(dataTar(data, spec.mtime, spec.md5sums ? md5sums : undefined), compression, dataTmp, { ...level, size: tarSize(data) });
    const controlMembers: TreeMember[] = [
      { name: "./", path: "", type: "directory", mode: 0o755 },
      ...(spec.conffiles?.length ? [fileMember("./conffiles", spec.conffiles.map((c) => `${c}\n`).join(""))] : []),
      fileMember("./control", controlText(fields)),
      ...(spec.md5sums ? [fileMember("./md5sums", md5sums.join(""))] : []),
      ...MAINTAINER_SCRIPTS.filter((s) => spec.scripts?.[s]).map((s) => fileMember(`./${s}`, scriptText(spec.scripts?.[s] ?? ""), 0o755)),
    ];
    const controlTar = await compress(await collect(packTar(controlMembers, spec.mtime)), compression, level);
    const dataSize = statSync(dataTmp).size;
    const head = writeAr(
      [
        { name: "debian-binary", data: Buffer.from("2.0\n") },
        { name: `control.tar.${compression}`, data: controlTar },
      ],
      spec.mtime,
    );
    await pipeline(async function* () {
      yield Buffer.concat([head, arHeader(`data.tar.${compression}`, dataSize, spec.mtime)]);
      yield* createReadStream(dataTmp, { highWaterMark: 1 << 20 });
      if (dataSize % 2) yield Buffer.from("\n");
    }, createWriteStream(tmp));
    renameSync(tmp, out);
  } finally {
    rmSync(tmp, { force: true });
    rmSync(dataTmp, { force: true });
  }
}
