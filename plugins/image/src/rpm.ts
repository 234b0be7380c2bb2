/**
 * IMAGE_PKGTYPE = "rpm": .rpms from DEPLOY_DIR_RPM. kiln reads the rpm itself —
 * lead, signature header, header (name, epoch, version, release, arch, scriptlets,
 * config files) and the cpio payload (gzip, xz or zstd) — and unpacks the payload by
 * turning its members into a tar stream for core's safe extractor, so an rpm gets
 * exactly the checks a .deb gets. The rpm database is then written by rpm itself
 * when the host has it (`rpm --root ROOTFS --dbpath /var/lib/rpm -i --justdb
 * --nodeps --noscripts`), so `rpm --root ROOTFS -qa` lists the packages; without
 * rpm the files are installed and a warning says the database is missing.
 * Packages are found by reading the headers of the .rpm files in the deploy dir
 * (rpm feeds have no `Packages` index; file names vary between writers).
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { loadExeca, loadTarStream } from "@kiln/core";
import { extractTarStream, KilnError } from "@kiln/core";
import { decompress } from "@kiln/package";
import type { MaintainerScript, OpenedPackage, RootfsBackend, RootfsContext } from "./backend.js";
import { packageError } from "./ar-format.js";
import type { ResolvedPackage } from "./resolve.js";

type TagValue = string | string[] | number[] | Buffer;

const TAG = {
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  SUMMARY: 1004,
  FILEMODES: 1030,
  FILEFLAGS: 1037,
  ARCH: 1022,
  PREIN: 1023,
  POSTIN: 1024,
  PREUN: 1025,
  POSTUN: 1026,
  PREINPROG: 1085,
  POSTINPROG: 1086,
  PREUNPROG: 1087,
  POSTUNPROG: 1088,
  DIRINDEXES: 1116,
  BASENAMES: 1117,
  DIRNAMES: 1118,
  PAYLOADFORMAT: 1124,
  PAYLOADCOMPRESSOR: 1125,
} as const;
const RPMFILE_CONFIG = 1;

/** One rpm header structure at `at`: its tags and where it ends. */
function readHeader(buf: Buffer, at: number, what: string): { tags: Map<number, TagValue>; end: number } {
  if (buf.length < at + 16 || buf.readUInt32BE(at) !== 0x8eade801) throw new Error(`${what}: bad header magic at offset ${at}`);
  const count = buf.readUInt32BE(at + 8);
  const size = buf.readUInt32BE(at + 12);
  const index = at + 16;
  const store = index + count * 16;
  const end = store + size;
  if (end > buf.length || count > 100000) throw new Error(`${what}: header at offset ${at} runs past the end`);
  const tags = new Map<number, TagValue>();
  const cstring = (from: number) => {
    const nul = buf.indexOf(0, from);
    if (nul < 0 || nul >= end) throw new Error(`${what}: unterminated string in header`);
    return [buf.toString("utf8", from, nul), nul + 1] as const;
  };
  for (let i = 0; i < count; i++) {
    const e = index + i * 16;
    const tag = buf.readUInt32BE(e);
    const type = buf.readUInt32BE(e + 4);
    const off = store + buf.readInt32BE(e + 8);
    const n = buf.readUInt32BE(e + 12);
    if (off < store || off > end) throw new Error(`${what}: tag ${tag} points outside the header`);
    if (type === 6) tags.set(tag, cstring(off)[0]);
    else if (type === 8 || type === 9) {
      const list: string[] = [];
      let p = off;
      for (let k = 0; k < n; k++) {
        const [s, next] = cstring(p);
        list.push(s);
        p = next;
      }
      tags.set(tag, type === 9 ? (list[0] ?? "") : list);
    } else if (type === 4) {
      if (off + 4 * n > end) throw new Error(`${what}: tag ${tag} runs past the header`);
      tags.set(tag, Array.from({ length: n }, (_, k) => buf.readUInt32BE(off + 4 * k)));
    } else if (type === 3) {
      if (off + 2 * n > end) throw new Error(`${what}: tag ${tag} runs past the header`);
      tags.set(tag, Array.from({ length: n }, (_, k) => buf.readUInt16BE(off + 2 * k)));
    } else if (type === 7) tags.set(tag, buf.subarray(off, Math.min(off + n, end)));
  }
  return { tags, end };
}

export interface RpmPackage {
  name: string;
  epoch: string;
  version: string;
  release: string;
  arch: string;
  tags: Map<number, TagValue>;
  payload: Buffer;
}

/** Parse an .rpm held in memory; errors name the file. */
export function readRpm(buf: Buffer, file: string): RpmPackage {
  if (buf.length < 96 || buf.readUInt32BE(0) !== 0xedabeedb) throw new Error(`${file} is not an rpm (bad lead)`);
  const sig = readHeader(buf, 96, file);
  const headerAt = sig.end + ((8 - (sig.end % 8)) % 8);
  const { tags, end } = readHeader(buf, headerAt, file);
  const s = (t: number) => {
    const v = tags.get(t);
    return typeof v === "string" ? v : "";
  };
  const epochs = tags.get(TAG.EPOCH);
  return {
    name: s(TAG.NAME),
    epoch: Array.isArray(epochs) && typeof epochs[0] === "number" ? String(epochs[0]) : "",
    version: s(TAG.VERSION),
    release: s(TAG.RELEASE),
    arch: s(TAG.ARCH),
    tags,
    payload: buf.subarray(end),
  };
}

interface CpioMember {
  name: string;
  mode: number;
  mtime: number;
  data: Buffer;
}

/** The members of a newc ("070701") cpio archive, as rpm's payload has them. */
function readCpio(buf: Buffer, what: string): CpioMember[] {
  const out: CpioMember[] = [];
  let at = 0;
  const align = (n: number) => (n + 3) & ~3;
  for (;;) {
    if (at + 110 > buf.length) throw new Error(`${what}: cpio payload ends without a trailer`);
    const magic = buf.toString("latin1", at, at + 6);
    if (magic !== "070701" && magic !== "070702") throw new Error(`${what}: payload member at offset ${at} is not a newc cpio header`);
    const hex = (i: number) => Number.parseInt(buf.toString("latin1", at + 6 + i * 8, at + 14 + i * 8), 16);
    const mode = hex(1);
    const size = hex(6);
    const nameSize = hex(11);
    const nameAt = at + 110;
    const name = buf.toString("utf8", nameAt, nameAt + nameSize - 1);
    const dataAt = align(nameAt + nameSize);
    if (name === "TRAILER!!!") return out;
    if (dataAt + size > buf.length) throw new Error(`${what}: cpio member '${name}' runs past the end`);
    out.push({ name, mode, mtime: hex(5), data: buf.subarray(dataAt, dataAt + size) });
    at = align(dataAt + size);
  }
}

const COMPRESSORS: Record<string, string> = { gzip: "gz", xz: "xz", zstd: "zst", "": "" };

/** The payload as a tar stream, for core's extractor (its checks apply to rpms too). */
async function cpioAsTar(members: CpioMember[]): Promise<Readable> {
  const pack = (await loadTarStream()).pack();
  for (const m of members) {
    const kind = m.mode & 0o170000;
    const header = { name: m.name, mode: m.mode & 0o7777, mtime: new Date(m.mtime * 1000), uid: 0, gid: 0 };
    if (kind === 0o040000) pack.entry({ ...header, type: "directory" });
    else if (kind === 0o120000) pack.entry({ ...header, type: "symlink", linkname: m.data.toString("utf8") });
    else if (kind === 0o100000) pack.entry({ ...header, type: "file", size: m.data.length }, m.data);
    else pack.entry({ ...header, type: "character-device" });
  }
  pack.finalize();
  return pack as unknown as Readable;
}

const SCRIPTS: [MaintainerScript, number, number][] = [
  ["preinst", TAG.PREIN, TAG.PREINPROG],
  ["postinst", TAG.POSTIN, TAG.POSTINPROG],
  ["prerm", TAG.PREUN, TAG.PREUNPROG],
  ["postrm", TAG.POSTUN, TAG.POSTUNPROG],
];

export function rpmVersion(r: { epoch: string; version: string; release: string }): string {
  return `${r.epoch ? `${r.epoch}:` : ""}${r.version}-${r.release}`;
}

async function openRpm(file: string, expected: string): Promise<OpenedPackage> {
  let r: RpmPackage;
  try {
    r = readRpm(readFileSync(file), file);
  } catch (err) {
    throw packageError(expected, file, (err as Error).message, err);
  }
  const format = String(r.tags.get(TAG.PAYLOADFORMAT) ?? "cpio");
  if (format !== "cpio") throw packageError(r.name, file, `payload format '${format}' is not cpio`);
  const compressor = String(r.tags.get(TAG.PAYLOADCOMPRESSOR) ?? "gzip");
  const how = COMPRESSORS[compressor];
  if (how === undefined) throw packageError(r.name, file, `payload compressor '${compressor}' is not supported (gzip, xz, zstd)`);
  let members: CpioMember[] | undefined;
  const payload = async () => {
    if (members) return members;
    try {
      // Buffer.from: @kiln/package's zstd path hands back execa's Uint8Array
      members = readCpio(Buffer.from(await decompress(Buffer.from(r.payload), how)), file);
    } catch (err) {
      throw packageError(r.name, file, `payload: ${(err as Error).message}`, err);
    }
    return members;
  };
  const scripts: Partial<Record<MaintainerScript, string>> = {};
  for (const [kind, body, prog] of SCRIPTS) {
    const text = r.tags.get(body);
    if (typeof text !== "string" || !text) continue;
    const interpreter = r.tags.get(prog);
    const shebang = typeof interpreter === "string" ? interpreter : Array.isArray(interpreter) ? interpreter.join(" ") : "/bin/sh";
    scripts[kind] = text.startsWith("#!") ? text : `#!${shebang}\n${text}\n`;
  }
  const dirnames = (r.tags.get(TAG.DIRNAMES) as string[] | undefined) ?? [];
  const basenames = (r.tags.get(TAG.BASENAMES) as string[] | undefined) ?? [];
  const dirindexes = (r.tags.get(TAG.DIRINDEXES) as number[] | undefined) ?? [];
  const flags = (r.tags.get(TAG.FILEFLAGS) as number[] | undefined) ?? [];
  const conffiles = basenames.map((b, i) => `${dirnames[dirindexes[i]] ?? "/"}${b}`).filter((_, i) => (flags[i] ?? 0) & RPMFILE_CONFIG);
  const summary = String(r.tags.get(TAG.SUMMARY) ?? "");
  return {
    file,
    name: r.name,
    version: rpmVersion(r),
    arch: r.arch,
    control: `Package: ${r.name}\nVersion: ${rpmVersion(r)}\nArchitecture: ${r.arch}\nDescription: ${summary}\n`,
    scripts,
    conffiles,
    extra: {},
    async extract(dest) {
      await extractTarStream(await cpioAsTar(await payload()), dest, `package ${r.name} (${file})`, { anyLinkTarget: true });
    },
    async members() {
      return new Map((await payload()).map((m) => [m.name.replace(/^\.?\//, "").replace(/\/+$/, ""), { mode: m.mode & 0o7777, mtime: m.mtime }]));
    },
  };
}

interface RpmEntry {
  file: string;
  name: string;
  epoch: string;
  version: string;
  release: string;
  /** Why the file could not be read (it is then never chosen; the not-found error lists it). */
  error?: string;
}

const entriesOf = new WeakMap<RootfsContext, RpmEntry[]>();

/** Every .rpm under the deploy dir's architecture directories, by its header. */
function scanDeployDir(dir: string): RpmEntry[] {
  const out: RpmEntry[] = [];
  if (!existsSync(dir)) return out;
  for (const arch of readdirSync(dir).sort()) {
    const sub = join(dir, arch);
    if (!statSync(sub).isDirectory()) continue;
    for (const f of readdirSync(sub).sort()) {
      if (!f.endsWith(".rpm")) continue;
      const file = join(sub, f);
      try {
        const r = readRpm(readFileSync(file), file);
        out.push({ file, name: r.name, epoch: r.epoch, version: r.version, release: r.release });
      } catch (err) {
        out.push({ file, name: "", epoch: "", version: "", release: "", error: (err as Error).message });
      }
    }
  }
  return out;
}

/** Writers spell versions with the characters rpm allows; compare what is left. */
const loose = (s: string) => s.replace(/[^A-Za-z0-9.]/g, "");

export const rpmBackend = (plugin: string): RootfsBackend => ({
  type: "rpm",
  plugin,
  unversionedProvideSatisfies: true,
  scriptArgs: { preinst: ["1"], postinst: ["1"] },
  locate(p: ResolvedPackage, rc: RootfsContext): string {
    let entries = entriesOf.get(rc);
    if (!entries) entriesOf.set(rc, (entries = scanDeployDir(rc.deployDir)));
    const v = p.data.vars;
    const want = loose(`${v.PKGV ?? p.data.recipe.PV ?? ""}${v.PKGR ?? p.data.recipe.PR ?? ""}`);
    const named = entries.filter((e) => e.name === p.name);
    const hit = named.find((e) => loose(`${e.version}${e.release}`) === want) ?? (named.length === 1 ? named[0] : undefined);
    if (!hit) {
      throw new KilnError("NOT_FOUND", `package ${p.name} ${p.version} (needed by ${p.chain.slice(0, -1).join(" -> ")}): no .rpm in ${rc.deployDir}`, {
        details: { package: p.name, version: p.version, deployDir: rc.deployDir, found: named.map((e) => e.file), unreadable: entries.filter((e) => e.error).map((e) => `${e.file}: ${e.error}`) },
        hint: `do_package_write_rpm of ${p.data.pn} must have run, and @kiln/sstate must be loaded (it installs packages into the deploy dir)`,
      });
    }
    return hit.file;
  },
  open: (file, p) => openRpm(file, p.name),
  async writeDatabase(installed, rc) {
    if (!installed.length) return;
    const rpm = await (await loadExeca())("rpm", ["--version"], { reject: false });
    if (rpm.failed) {
      rc.ctx.warn(`${String(rc.d.getVar("PN"))}: the host has no rpm: files are installed, but ${rc.rootfs}/var/lib/rpm has no database`);
      return;
    }
    const r = await (await loadExeca())(
      "rpm",
      ["--root", rc.rootfs, "--dbpath", "/var/lib/rpm", "-i", "--justdb", "--nodeps", "--noscripts", "--notriggers", "--ignorearch", "--ignoreos", "--ignoresize", "--nosignature", "--nodigest", ...installed.map((ip) => ip.opened.file)],
      { reject: false, all: true, env: { LC_ALL: "C", HOME: rc.rootfs, SOURCE_DATE_EPOCH: String(rc.epoch) }, cancelSignal: rc.ctx.signal },
    );
    if (r.all) rc.ctx.log(`rpm --justdb:\n${r.all}`);
    if (r.exitCode !== 0) throw new KilnError("FATAL", `rpm could not record the packages in ${rc.rootfs}/var/lib/rpm (exit ${r.exitCode}):\n${String(r.all ?? "").trim()}`);
    // sqlite's write-ahead log and shared-memory index, and rpm's lock, are leftovers of the
    // run once the log is checkpointed (empty); they have no place in an image
    const db = join(rc.rootfs, "var/lib/rpm");
    const wal = join(db, "rpmdb.sqlite-wal");
    if (!existsSync(wal) || statSync(wal).size === 0) for (const f of ["rpmdb.sqlite-wal", "rpmdb.sqlite-shm", ".rpm.lock"]) rmSync(join(db, f), { force: true });
  },
});
