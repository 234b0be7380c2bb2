/**
 * Writing a .deb (the format dpkg reads): an ar archive of `debian-binary` ("2.0"),
 * `control.tar.<ext>` (control, md5sums, conffiles, maintainer scripts) and
 * `data.tar.<ext>` (the files, as `./path`). Everything is deterministic — members
 * sorted, owned by root, mtimes = SOURCE_DATE_EPOCH, gzip without a timestamp —
 * so the same input gives byte-identical packages. Written to a temp name, renamed.
 */
import { execa } from "execa";
import { createHash } from "node:crypto";
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { packTar, treeMembers, writeAr, type TreeMember } from "@kiln/core";

export type DebCompression = "xz" | "gz" | "zst";
export const MAINTAINER_SCRIPTS = ["preinst", "postinst", "prerm", "postrm"] as const;

export interface DebSpec {
  /** Control fields in the order they are written (Installed-Size is added when missing). */
  control: [string, string][];
  /** The files of the package (becomes `./...` in data.tar). */
  root: string;
  scripts?: Partial<Record<(typeof MAINTAINER_SCRIPTS)[number], string>>;
  /** Absolute paths inside the package that are configuration files. */
  conffiles?: string[];
  compression?: DebCompression;
  /** SOURCE_DATE_EPOCH: every mtime in the package. */
  mtime: number;
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function compress(data: Buffer, how: DebCompression): Promise<Buffer> {
  if (how === "gz") return gzipSync(data, { level: 9 });
  if (how === "zst") return (await execa("zstd", ["-q", "-c", "-19", "-T1"], { input: data, encoding: "buffer" })).stdout as unknown as Buffer;
  const lzma = (await import("lzma-native")).default;
  const c = lzma.createCompressor({ preset: 6, threads: 1 });
  const out = collect(c);
  c.end(data);
  return out;
}

/** A control field value as the format wants it: continuation lines indented, empty ones as " .". */
export function fieldValue(value: string): string {
  const [first, ...rest] = value.replace(/\s+$/, "").split("\n");
  return [first, ...rest.map((l) => (l.trim() ? ` ${l.replace(/^\s+/, "")}` : " ."))].join("\n");
}

export async function writeDeb(spec: DebSpec, out: string): Promise<void> {
  const compression = spec.compression ?? "xz";
  const files = treeMembers(spec.root, ".", { slashDirs: true });
  const data: TreeMember[] = [{ name: "./", path: spec.root, type: "directory", mode: 0o755 }, ...files];
  const regular = files.filter((f) => f.type === "file");
  const md5sums = regular.map((f) => `${createHash("md5").update(readFileSync(f.path)).digest("hex")}  ${f.name.slice(2)}\n`).join("");
  const installedKb = Math.ceil(regular.reduce((n, f) => n + readFileSync(f.path).length, 0) / 1024);

  const fields = [...spec.control];
  if (!fields.some(([k]) => k === "Installed-Size")) {
    const at = fields.findIndex(([k]) => k === "Maintainer");
    fields.splice(at < 0 ? fields.length : at + 1, 0, ["Installed-Size", String(installedKb)]);
  }
  const control = fields.map(([k, v]) => `${k}: ${fieldValue(v)}\n`).join("");
  const controlMembers: TreeMember[] = [
    { name: "./", path: "", type: "directory", mode: 0o755 },
    ...(spec.conffiles?.length ? [{ name: "./conffiles", path: "", type: "file" as const, mode: 0o644, content: Buffer.from(spec.conffiles.map((c) => `${c}\n`).join("")) }] : []),
    { name: "./control", path: "", type: "file", mode: 0o644, content: Buffer.from(control) },
    { name: "./md5sums", path: "", type: "file", mode: 0o644, content: Buffer.from(md5sums) },
    ...MAINTAINER_SCRIPTS.filter((s) => spec.scripts?.[s]).map((s) => ({
      name: `./${s}`,
      path: "",
      type: "file" as const,
      mode: 0o755,
      content: Buffer.from(`#!/bin/sh\nset -e\n${spec.scripts?.[s] ?? ""}\n`),
    })),
  ];
  const ext = { xz: "xz", gz: "gz", zst: "zst" }[compression];
  const deb = writeAr(
    [
      { name: "debian-binary", data: Buffer.from("2.0\n") },
      { name: `control.tar.${ext}`, data: await compress(await collect(packTar(controlMembers, spec.mtime)), compression) },
      { name: `data.tar.${ext}`, data: await compress(await collect(packTar(data, spec.mtime)), compression) },
    ],
    spec.mtime,
  );
  const tmp = `${out}.tmp.${process.pid}`;
  try {
    writeFileSync(tmp, deb);
    renameSync(tmp, out);
  } finally {
    rmSync(tmp, { force: true });
  }
}
