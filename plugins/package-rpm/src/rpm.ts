/**
 * Writing an RPM v4 package (what rpm 4.x reads) without rpmbuild:
 *
 *   lead (96 bytes, legacy) | signature header, padded to 8 | main header | payload
 *
 * The payload is a cpio "newc" archive of `root` (names `./usr/...`), compressed with
 * xz or zstd. The main header describes the package and every file (compressed file
 * names, modes, sha256 digests, owners "root") and carries sha256 digests of the
 * payload; the signature header carries digests of the main header (sha1, sha256) and
 * an md5 of header + payload, which is all `rpm -K` checks on an unsigned package.
 * Deterministic: files in byte order of their path, owned by root, every mtime and
 * BUILDTIME = SOURCE_DATE_EPOCH, BUILDHOST fixed, compressors whose output does not
 * depend on the number of CPUs. The payload is compressed into a temp file first (the
 * headers before it carry its digests and size), streaming, so a package never has to
 * fit in memory. Written to a temp name, then renamed.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, readlinkSync, renameSync, rmSync, type Stats } from "node:fs";
import { writeFile } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { UsageError } from "@kiln/core";
import { compressToFile, DEFAULT_LEVEL, fileChunks, walkTree, WHOLE_FILE, type Compression } from "@kiln/package";
import { CPIO_MAX_SIZE, CPIO_TRAILER, cpioHeader, cpioPadding } from "./cpio.js";
import { bin, encodeHeader, i18nString, int16, int32, int64, string, stringArray, type TagData, type Tags } from "./header.js";

export type RpmSense = "<" | "<=" | "=" | ">=" | ">";
export type RpmCompression = "xz" | "zstd";

export interface RpmDependency {
  name: string;
  /** With `version`: how the other package's version must compare to it. */
  flags?: RpmSense;
  version?: string;
}

export interface RpmSpec {
  name: string;
  epoch?: number;
  version: string;
  release: string;
  /** e.g. x86_64 or noarch. */
  arch: string;
  summary: string;
  description: string;
  license: string;
  /** Default "Unspecified", as rpmbuild. */
  group?: string;
  url?: string;
  packager?: string;
  vendor?: string;
  /** Default "linux". */
  os?: string;
  /** SOURCE_DATE_EPOCH: BUILDTIME and every file's mtime. */
  buildTime: number;
  /** Default "kiln" (never the real host name: the same input must give the same bytes). */
  buildHost?: string;
  /**
   * The source package this one was built from (default `N-V-R.src.rpm`). rpm treats
   * a package without SOURCERPM as a source package, so it is always written.
   */
  sourceRpm?: string;
  /** The directory whose contents are the package's files (`root/usr/bin/x` is `/usr/bin/x`). */
  root: string;
  requires?: RpmDependency[];
  provides?: RpmDependency[];
  conflicts?: RpmDependency[];
  obsoletes?: RpmDependency[];
  recommends?: RpmDependency[];
  /** Scriptlet bodies, run by /bin/sh. */
  scripts?: { prein?: string; postin?: string; preun?: string; postun?: string };
  /** Absolute paths in the package of configuration files (%config(noreplace)). */
  conffiles?: string[];
  /** Payload compressor, default xz. */
  compression?: RpmCompression;
}

/** Main header tags (rpm's rpmtag.h). */
const TAG = {
  HEADERIMMUTABLE: 63,
  HEADERI18NTABLE: 100,
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  SUMMARY: 1004,
  DESCRIPTION: 1005,
  BUILDTIME: 1006,
  BUILDHOST: 1007,
  SIZE: 1009,
  VENDOR: 1011,
  LICENSE: 1014,
  PACKAGER: 1015,
  GROUP: 1016,
  URL: 1020,
  OS: 1021,
  ARCH: 1022,
  PREIN: 1023,
  POSTIN: 1024,
  PREUN: 1025,
  POSTUN: 1026,
  FILESIZES: 1028,
  FILEMODES: 1030,
  FILERDEVS: 1033,
  FILEMTIMES: 1034,
  FILEDIGESTS: 1035,
  FILELINKTOS: 1036,
  FILEFLAGS: 1037,
  FILEUSERNAME: 1039,
  FILEGROUPNAME: 1040,
  SOURCERPM: 1044,
  FILEVERIFYFLAGS: 1045,
  PROVIDENAME: 1047,
  REQUIREFLAGS: 1048,
  REQUIRENAME: 1049,
  REQUIREVERSION: 1050,
  CONFLICTFLAGS: 1053,
  CONFLICTNAME: 1054,
  CONFLICTVERSION: 1055,
  RPMVERSION: 1064,
  PREINPROG: 1085,
  POSTINPROG: 1086,
  PREUNPROG: 1087,
  POSTUNPROG: 1088,
  OBSOLETENAME: 1090,
  FILEDEVICES: 1095,
  FILEINODES: 1096,
  FILELANGS: 1097,
  PROVIDEFLAGS: 1112,
  PROVIDEVERSION: 1113,
  OBSOLETEFLAGS: 1114,
  OBSOLETEVERSION: 1115,
  DIRINDEXES: 1116,
  BASENAMES: 1117,
  DIRNAMES: 1118,
  PAYLOADFORMAT: 1124,
  PAYLOADCOMPRESSOR: 1125,
  PAYLOADFLAGS: 1126,
  LONGSIZE: 5009,
  FILEDIGESTALGO: 5011,
  RECOMMENDNAME: 5046,
  RECOMMENDVERSION: 5047,
  RECOMMENDFLAGS: 5048,
  ENCODING: 5062,
  PAYLOADDIGEST: 5092,
  PAYLOADDIGESTALGO: 5093,
  PAYLOADDIGESTALT: 5097,
} as const;

/** Signature header tags (RPMSIGTAG_*). */
const SIGTAG = { HEADERSIGNATURES: 62, SHA1: 269, LONGSIZE: 270, LONGARCHIVESIZE: 271, SHA256: 273, SIZE: 1000, MD5: 1004, PAYLOADSIZE: 1007 } as const;

/** rpmsenseFlags. */
const SENSE = { LESS: 2, GREATER: 4, EQUAL: 8, INTERP: 1 << 8, SCRIPT_PRE: 1 << 9, SCRIPT_POST: 1 << 10, SCRIPT_PREUN: 1 << 11, SCRIPT_POSTUN: 1 << 12, RPMLIB: 1 << 24 } as const;
const OPERATORS: Record<RpmSense, number> = { "<": SENSE.LESS, "<=": SENSE.LESS | SENSE.EQUAL, "=": SENSE.EQUAL, ">=": SENSE.GREATER | SENSE.EQUAL, ">": SENSE.GREATER };

const RPMFILE_CONFIG = 1 << 0;
const RPMFILE_NOREPLACE = 1 << 4;
/** Verify everything about every file (rpmbuild's default, written as -1). */
const RPMVERIFY_ALL = -1;
/** PGPHASHALGO_SHA256, for file and payload digests. */
const SHA256_ALGO = 8;

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;
const fileType = (f: PackageFile) => f.mode & S_IFMT;

const SCRIPTS = [
  { key: "prein", tag: TAG.PREIN, prog: TAG.PREINPROG, sense: SENSE.SCRIPT_PRE },
  { key: "postin", tag: TAG.POSTIN, prog: TAG.POSTINPROG, sense: SENSE.SCRIPT_POST },
  { key: "preun", tag: TAG.PREUN, prog: TAG.PREUNPROG, sense: SENSE.SCRIPT_PREUN },
  { key: "postun", tag: TAG.POSTUN, prog: TAG.POSTUNPROG, sense: SENSE.SCRIPT_POSTUN },
] as const;
const SCRIPT_INTERPRETER = "/bin/sh";

const DEPENDENCY_TAGS = {
  provides: [TAG.PROVIDENAME, TAG.PROVIDEFLAGS, TAG.PROVIDEVERSION],
  requires: [TAG.REQUIRENAME, TAG.REQUIREFLAGS, TAG.REQUIREVERSION],
  conflicts: [TAG.CONFLICTNAME, TAG.CONFLICTFLAGS, TAG.CONFLICTVERSION],
  obsoletes: [TAG.OBSOLETENAME, TAG.OBSOLETEFLAGS, TAG.OBSOLETEVERSION],
  recommends: [TAG.RECOMMENDNAME, TAG.RECOMMENDFLAGS, TAG.RECOMMENDVERSION],
} as const;
type DependencyKind = keyof typeof DEPENDENCY_TAGS;
const DEPENDENCY_KINDS = Object.keys(DEPENDENCY_TAGS) as DependencyKind[];

interface Compressor {
  /** @kiln/package's name for it (the program, its level and threads come from there). */
  how: Compression;
  level: number;
  /** The rpmlib() feature a reader needs for this payload compressor. */
  rpmlib: [string, string];
}

// Both run multi-threaded with output that does not depend on the thread count (see
// @kiln/package's compress.ts), so the bytes do not depend on the machine.
const COMPRESSORS: Record<RpmCompression, Compressor> = {
  xz: { how: "xz", level: DEFAULT_LEVEL.xz, rpmlib: ["PayloadIsXz", "5.2-1"] },
  zstd: { how: "zst", level: DEFAULT_LEVEL.zst, rpmlib: ["PayloadIsZstd", "5.4.18-1"] },
};

/** A dependency as the header stores it. */
interface Dependency {
  name: string;
  flags: number;
  version: string;
}

/** A file, directory or symlink of the package, in header (and payload) order. */
interface PackageFile {
  /** Absolute path in the package: `/usr/bin/hello`. */
  path: string;
  /** Where it is on disk. */
  source: string;
  /** st_mode: type bits and permissions. */
  mode: number;
  /** Bytes of a regular file, length of a symlink's target, 0 for a directory. */
  size: number;
  linkTo: string;
  /** sha256 (hex) of a regular file's content, set while the payload is written. */
  digest: string;
}

interface Payload {
  file: string;
  /** Compressed size and sha256. */
  size: number;
  sha256: string;
  /** The uncompressed cpio archive's size and sha256. */
  archiveSize: number;
  archiveSha256: string;
}

/** '-' would split rpm's EVR; the other characters are what rpmbuild accepts. */
const VERSION_CHARS = /^[A-Za-z0-9._+%{}~^]+$/;
const NAME_CHARS = /^[A-Za-z0-9._+%{}-]+$/;
const ARCH_CHARS = /^[A-Za-z0-9_]+$/;

/**
 * rpm's version fields for BitBake's PV, PR and PE: '-' (not allowed in an rpm version
 * or release) becomes '+', as OpenEmbedded's package_rpm does; '~' stays (rpm ≥ 4.10
 * sorts it before anything, as dpkg does); an empty PE means no epoch.
 */
export function rpmVersion(pv: string, pr: string, pe?: string): { epoch?: number; version: string; release: string } {
  const version = pv.replace(/-/g, "+");
  const release = pr.replace(/-/g, "+");
  if (!pe) return { version, release };
  if (!/^[0-9]+$/.test(pe)) throw new UsageError(`PE '${pe}' is not a number`, { hint: "rpm's epoch is an unsigned integer" });
  return { epoch: Number(pe), version, release };
}

const evr = (spec: RpmSpec) => `${spec.epoch === undefined ? "" : `${spec.epoch}:`}${spec.version}-${spec.release}`;

function validateSpec(spec: RpmSpec): void {
  const bad = (what: string, value: unknown, hint: string) => new UsageError(`rpm package ${spec.name}: invalid ${what} '${String(value)}'`, { hint });
  if (!NAME_CHARS.test(spec.name)) throw bad("name", spec.name, "letters, digits and ._+%{}- only");
  if (!VERSION_CHARS.test(spec.version)) throw bad("version", spec.version, "letters, digits and ._+%{}~^ only (rpmVersion() maps BitBake's PV)");
  if (!VERSION_CHARS.test(spec.release)) throw bad("release", spec.release, "letters, digits and ._+%{}~^ only (rpmVersion() maps BitBake's PR)");
  if (!ARCH_CHARS.test(spec.arch)) throw bad("arch", spec.arch, "letters, digits and _ only");
  if (spec.epoch !== undefined && !(Number.isInteger(spec.epoch) && spec.epoch >= 0 && spec.epoch <= 0xffffffff)) throw bad("epoch", spec.epoch, "an unsigned 32-bit integer");
  if (!(Number.isInteger(spec.buildTime) && spec.buildTime >= 0 && spec.buildTime <= 0xffffffff)) throw bad("buildTime", spec.buildTime, "seconds since the epoch, as SOURCE_DATE_EPOCH");
}

function packageFile(path: string, source: string, st: Stats): PackageFile {
  const file = { path, source, mode: st.mode, size: 0, linkTo: "", digest: "" };
  if (st.isSymbolicLink()) {
    file.linkTo = readlinkSync(source);
    file.size = Buffer.byteLength(file.linkTo);
  } else if (st.isFile()) {
    if (st.size > CPIO_MAX_SIZE) throw new UsageError(`rpm payload: ${source} is 4 GiB or larger`, { hint: "the cpio newc payload kiln writes cannot hold files that large" });
    file.size = st.size;
  } else if (!st.isDirectory()) {
    throw new UsageError(`rpm payload: ${source} is not a regular file, directory or symlink`, { hint: "device nodes, fifos and sockets cannot be packaged; create them in a postinst", details: { path: source } });
  }
  return file;
}

/** Everything under `root`, sorted by path in byte order as rpmbuild does (rpm finds payload entries in the header by binary search). */
function scanRoot(root: string): PackageFile[] {
  const files = walkTree(root).map((e) => packageFile(`/${e.rel}`, e.path, e.stat));
  return files.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

function checkConffiles(spec: RpmSpec, files: PackageFile[]): void {
  for (const c of spec.conffiles ?? []) {
    const file = files.find((f) => f.path === c);
    if (!file || fileType(file) === S_IFDIR) throw new UsageError(`rpm package ${spec.name}: conffile ${c} is not a file in the package`, { hint: "conffiles are absolute paths of files under root" });
  }
}

/** A byte count and sha256 of what flows through a stream. */
class Meter {
  size = 0;
  readonly hash = createHash("sha256");
  update(chunk: Buffer): void {
    this.size += chunk.length;
    this.hash.update(chunk);
  }
  async *through(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const c of chunks) {
      this.update(c);
      yield c;
    }
  }
}

/** A regular file's content in chunks; returns its sha256. */
async function* fileContent(file: PackageFile): AsyncGenerator<Buffer, string> {
  const meter = new Meter();
  try {
    yield* meter.through(fileChunks(file.source, file.size));
  } catch (err) {
    throw new UsageError(`rpm payload: ${(err as Error).message}`, { cause: err });
  }
  return meter.hash.digest("hex");
}

/** The cpio archive of `files`; inode numbers are header positions + 1, as FILEINODES says. */
async function* cpioArchive(files: PackageFile[], mtime: number): AsyncGenerator<Buffer> {
  for (const [i, file] of files.entries()) {
    yield cpioHeader({ name: `.${file.path}`, ino: i + 1, mode: file.mode, nlink: 1, mtime, size: file.size });
    if (fileType(file) === S_IFLNK) yield Buffer.from(file.linkTo);
    else if (fileType(file) === S_IFREG) file.digest = yield* fileContent(file);
    yield cpioPadding(file.size);
  }
  yield CPIO_TRAILER;
}

async function writePayload(files: PackageFile[], spec: RpmSpec, file: string): Promise<Payload> {
  const compressor = COMPRESSORS[spec.compression ?? "xz"];
  const archive = new Meter();
  const size = files.reduce((n, f) => n + f.size, 0);
  await compressToFile(Readable.from(archive.through(cpioArchive(files, spec.buildTime))), compressor.how, file, { level: compressor.level, size });
  // Read back for its sha256, which the main header carries.
  const compressed = new Meter();
  for await (const chunk of createReadStream(file, { highWaterMark: WHOLE_FILE }) as AsyncIterable<Buffer>) compressed.update(chunk);
  return { file, size: compressed.size, sha256: compressed.hash.digest("hex"), archiveSize: archive.size, archiveSha256: archive.hash.digest("hex") };
}

/** A size in `small` (INT32), or in `large` (INT64) when it does not fit, as rpm does. */
const sizeTag = (size: number, small: number, large: number): [number, TagData] => (size > 0xffffffff ? [large, int64([size])] : [small, int32([size])]);
const optionalString = (tag: number, value: string | undefined): [number, TagData][] => (value ? [[tag, string(value)]] : []);

function packageTags(spec: RpmSpec, files: PackageFile[]): [number, TagData][] {
  const installedSize = files.reduce((n, f) => n + f.size, 0);
  return [
    [TAG.HEADERI18NTABLE, stringArray(["C"])],
    [TAG.NAME, string(spec.name)],
    [TAG.VERSION, string(spec.version)],
    [TAG.RELEASE, string(spec.release)],
    ...(spec.epoch === undefined ? [] : [[TAG.EPOCH, int32([spec.epoch])] as [number, TagData]]),
    [TAG.SUMMARY, i18nString(spec.summary)],
    [TAG.DESCRIPTION, i18nString(spec.description)],
    [TAG.BUILDTIME, int32([spec.buildTime])],
    [TAG.BUILDHOST, string(spec.buildHost ?? "kiln")],
    sizeTag(installedSize, TAG.SIZE, TAG.LONGSIZE),
    ...optionalString(TAG.VENDOR, spec.vendor),
    [TAG.LICENSE, string(spec.license)],
    ...optionalString(TAG.PACKAGER, spec.packager),
    [TAG.GROUP, i18nString(spec.group ?? "Unspecified")],
    ...optionalString(TAG.URL, spec.url),
    [TAG.OS, string(spec.os ?? "linux")],
    [TAG.ARCH, string(spec.arch)],
    [TAG.SOURCERPM, string(spec.sourceRpm ?? `${spec.name}-${spec.version}-${spec.release}.src.rpm`)],
    [TAG.RPMVERSION, string("kiln")],
    [TAG.ENCODING, string("utf-8")],
  ];
}

function scriptTags(spec: RpmSpec): [number, TagData][] {
  return SCRIPTS.filter((s) => spec.scripts?.[s.key]).flatMap((s): [number, TagData][] => [
    [s.tag, string(spec.scripts?.[s.key] ?? "")],
    [s.prog, stringArray([SCRIPT_INTERPRETER])],
  ]);
}

function dependency(kind: DependencyKind, d: RpmDependency): Dependency {
  if (!d.name || /\s/.test(d.name)) throw new UsageError(`rpm ${kind}: invalid dependency name '${d.name}'`);
  if (!d.flags !== !d.version) throw new UsageError(`rpm ${kind}: ${d.name} needs both flags and version, or neither`);
  return { name: d.name, flags: d.flags ? OPERATORS[d.flags] : 0, version: d.version ?? "" };
}

/** The rpmlib() features a reader must have for what this package uses, as rpmbuild adds them. */
function rpmlibRequires(spec: RpmSpec, versions: string[]): Dependency[] {
  const features: [string, string][] = [
    ["CompressedFileNames", "3.0.4-1"],
    ["FileDigests", "4.6.0-1"],
    ["PayloadFilesHavePrefix", "4.0-1"],
    COMPRESSORS[spec.compression ?? "xz"].rpmlib,
  ];
  if (versions.some((v) => v.includes("~"))) features.push(["TildeInVersions", "4.10.0-1"]);
  if (versions.some((v) => v.includes("^"))) features.push(["CaretInVersions", "4.15.0-1"]);
  return features.sort(([a], [b]) => (a < b ? -1 : 1)).map(([feature, version]) => ({ name: `rpmlib(${feature})`, flags: SENSE.RPMLIB | SENSE.LESS | SENSE.EQUAL, version }));
}

/** /bin/sh, required by every scriptlet, with the flags that order its installation first. */
function interpreterRequires(spec: RpmSpec): Dependency[] {
  const used = SCRIPTS.filter((s) => spec.scripts?.[s.key]);
  return used.length ? [{ name: SCRIPT_INTERPRETER, flags: used.reduce((f, s) => f | s.sense, SENSE.INTERP), version: "" }] : [];
}

function dependencyListTags([nameTag, flagsTag, versionTag]: readonly [number, number, number], deps: Dependency[]): [number, TagData][] {
  if (!deps.length) return [];
  return [
    [nameTag, stringArray(deps.map((d) => d.name))],
    [flagsTag, int32(deps.map((d) => d.flags))],
    [versionTag, stringArray(deps.map((d) => d.version))],
  ];
}

function dependencyTags(spec: RpmSpec): [number, TagData][] {
  const lists = {} as Record<DependencyKind, Dependency[]>;
  for (const kind of DEPENDENCY_KINDS) lists[kind] = (spec[kind] ?? []).map((d) => dependency(kind, d));
  // every package provides itself at its exact version, as rpmbuild writes it
  lists.provides.push({ name: spec.name, flags: SENSE.EQUAL, version: evr(spec) });
  const versions = [evr(spec), ...DEPENDENCY_KINDS.flatMap((kind) => lists[kind].map((d) => d.version))];
  lists.requires.push(...interpreterRequires(spec), ...rpmlibRequires(spec, versions));
  return DEPENDENCY_KINDS.flatMap((kind) => dependencyListTags(DEPENDENCY_TAGS[kind], lists[kind]));
}

/** The file list, with names split into DIRNAMES/BASENAMES/DIRINDEXES (rpmlib(CompressedFileNames)). */
function fileTags(spec: RpmSpec, files: PackageFile[]): [number, TagData][] {
  if (!files.length) return [];
  const dirs = new Map<string, number>();
  const dirIndexes: number[] = [];
  for (const f of files) {
    const dir = f.path.slice(0, f.path.lastIndexOf("/") + 1);
    if (!dirs.has(dir)) dirs.set(dir, dirs.size);
    dirIndexes.push(dirs.get(dir) ?? 0);
  }
  const conffiles = new Set(spec.conffiles ?? []);
  const each = <T>(value: T) => files.map(() => value);
  return [
    [TAG.FILESIZES, int32(files.map((f) => f.size))],
    [TAG.FILEMODES, int16(files.map((f) => f.mode))],
    [TAG.FILERDEVS, int16(each(0))],
    [TAG.FILEMTIMES, int32(each(spec.buildTime))],
    [TAG.FILEDIGESTS, stringArray(files.map((f) => f.digest))],
    [TAG.FILELINKTOS, stringArray(files.map((f) => f.linkTo))],
    [TAG.FILEFLAGS, int32(files.map((f) => (conffiles.has(f.path) ? RPMFILE_CONFIG | RPMFILE_NOREPLACE : 0)))],
    [TAG.FILEUSERNAME, stringArray(each("root"))],
    [TAG.FILEGROUPNAME, stringArray(each("root"))],
    [TAG.FILEVERIFYFLAGS, int32(each(RPMVERIFY_ALL))],
    // rpm finds hard links by equal (device, inode): one device, distinct inodes, none
    [TAG.FILEDEVICES, int32(each(1))],
    [TAG.FILEINODES, int32(files.map((_, i) => i + 1))],
    [TAG.FILELANGS, stringArray(each(""))],
    [TAG.DIRINDEXES, int32(dirIndexes)],
    [TAG.BASENAMES, stringArray(files.map((f) => f.path.slice(f.path.lastIndexOf("/") + 1)))],
    [TAG.DIRNAMES, stringArray([...dirs.keys()])],
    [TAG.FILEDIGESTALGO, int32([SHA256_ALGO])],
  ];
}

function payloadTags(spec: RpmSpec, payload: Payload): [number, TagData][] {
  const compression = spec.compression ?? "xz";
  return [
    [TAG.PAYLOADFORMAT, string("cpio")],
    [TAG.PAYLOADCOMPRESSOR, string(compression)],
    [TAG.PAYLOADFLAGS, string(String(COMPRESSORS[compression].level))],
    [TAG.PAYLOADDIGEST, stringArray([payload.sha256])],
    [TAG.PAYLOADDIGESTALGO, int32([SHA256_ALGO])],
    [TAG.PAYLOADDIGESTALT, stringArray([payload.archiveSha256])],
  ];
}

function mainHeader(spec: RpmSpec, files: PackageFile[], payload: Payload): Buffer {
  const tags: Tags = new Map([...packageTags(spec, files), ...scriptTags(spec), ...dependencyTags(spec), ...fileTags(spec, files), ...payloadTags(spec, payload)]);
  return encodeHeader(tags, TAG.HEADERIMMUTABLE);
}

/** Digests of the main header, and the legacy md5 and sizes of header + payload. */
async function signatureHeader(header: Buffer, payload: Payload): Promise<Buffer> {
  const md5 = createHash("md5").update(header);
  for await (const chunk of createReadStream(payload.file, { highWaterMark: WHOLE_FILE }) as AsyncIterable<Buffer>) md5.update(chunk);
  const tags: Tags = new Map([
    [SIGTAG.SHA1, string(createHash("sha1").update(header).digest("hex"))],
    [SIGTAG.SHA256, string(createHash("sha256").update(header).digest("hex"))],
    sizeTag(header.length + payload.size, SIGTAG.SIZE, SIGTAG.LONGSIZE),
    [SIGTAG.MD5, bin(md5.digest())],
    sizeTag(payload.archiveSize, SIGTAG.PAYLOADSIZE, SIGTAG.LONGARCHIVESIZE),
  ]);
  const signature = encodeHeader(tags, SIGTAG.HEADERSIGNATURES);
  // the main header starts on an 8-byte boundary
  return Buffer.concat([signature, Buffer.alloc((8 - (signature.length % 8)) % 8)]);
}

/** rpmrc's arch_canon numbers of common architectures; rpm ≥ 4 ignores the lead's (it reads ARCH), old tools may not. */
const LEAD_ARCHNUM: [RegExp, number][] = [
  [/^(i[3-6]86|x86_64)$/, 1],
  [/^mips(el)?$/, 4],
  [/^(ppc|powerpc)$/, 5],
  [/^mips64/, 11],
  [/^arm/, 12],
  [/^(ppc|powerpc)64/, 16],
  [/^aarch64/, 19],
  [/^riscv/, 22],
];

function lead(spec: RpmSpec): Buffer {
  const b = Buffer.alloc(96);
  Buffer.from([0xed, 0xab, 0xee, 0xdb, 3, 0]).copy(b, 0); // magic, format 3.0
  b.writeUInt16BE(0, 6); // binary package
  b.writeUInt16BE(LEAD_ARCHNUM.find(([re]) => re.test(spec.arch))?.[1] ?? 0, 8);
  Buffer.from(`${spec.name}-${spec.version}-${spec.release}`).subarray(0, 65).copy(b, 10); // NUL-terminated in 66 bytes
  b.writeUInt16BE(1, 76); // Linux
  b.writeUInt16BE(5, 78); // RPMSIGTYPE_HEADERSIG: a signature header follows
  return b;
}

/** Writes the RPM package `spec` describes to `out`. */
export async function writeRpm(spec: RpmSpec, out: string): Promise<void> {
  validateSpec(spec);
  const files = scanRoot(spec.root);
  checkConffiles(spec, files);
  const tmp = `${out}.tmp.${process.pid}`;
  const payloadFile = `${out}.payload.tmp.${process.pid}`;
  try {
    const payload = await writePayload(files, spec, payloadFile);
    const header = mainHeader(spec, files, payload);
    await writeFile(tmp, Buffer.concat([lead(spec), await signatureHeader(header, payload), header]));
    await pipeline(createReadStream(payloadFile), createWriteStream(tmp, { flags: "a" }));
    renameSync(tmp, out);
  } finally {
    rmSync(tmp, { force: true });
    rmSync(payloadFile, { force: true });
  }
}
