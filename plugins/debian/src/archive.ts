/**
 * A suite's indexes, verified: `dists/<suite>/InRelease` checked with `gpgv` against
 * the keyring (nothing is trusted from an unsigned or badly signed file), then each
 * `<component>/binary-<arch>/Packages.{xz,gz}` checked against the sha256 the signed
 * Release lists. Both are kept in DL_DIR: InRelease under the mirror and suite (the
 * last verified one, for BB_NO_NETWORK), the Packages files by their sha256 (as apt's
 * by-hash), so a parse with an unchanged InRelease downloads nothing else.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { loadExeca } from "@kiln/core";
import { FetchError, KilnError, writeAtomicSync, type DataStore, type Kiln } from "@kiln/core";
import { parse as parseControl } from "debian-control";
import { decompress } from "@kiln/package";

export interface SuiteConfig {
  mirror: string;
  suite: string;
  components: string[];
  arch: string;
  keyring: string;
}

export interface ReleaseFile {
  /** `Date` of the Release. */
  date: string;
  /** sha256 of the InRelease file as fetched. */
  sha256: string;
  /** Path relative to `dists/<suite>/` -> sha256 and size. */
  files: Map<string, { sha256: string; size: number }>;
  /** Where the verified InRelease is kept. */
  path: string;
}

export interface PackagesFile {
  component: string;
  /** `main/binary-amd64/Packages.xz` */
  path: string;
  sha256: string;
  /** The uncompressed text's sha256 (from Release), the key of the parsed cache. */
  textSha256: string;
  /** Where the verified compressed file is kept. */
  file: string;
}

const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

/** Write through a temp name beside `path`, then rename: never a half-written file (core's). */
export const writeAtomic = writeAtomicSync;

/** A directory name for a mirror URL: host and path, without the scheme. */
export function mirrorKey(mirror: string): string {
  return mirror.replace(/^[a-z+]+:\/\//i, "").replace(/\/+$/, "").replace(/[^A-Za-z0-9._-]+/g, "_");
}

/** GET `url` into memory through the fetch hook of its scheme (http(s) plugins, file://). */
export async function download(kiln: Kiln, url: string, d: DataStore, what: string): Promise<Buffer> {
  if (String(d.getVar("BB_NO_NETWORK") ?? "") === "1" && !url.startsWith("file:")) {
    throw new FetchError(`${what}: network access is disabled (BB_NO_NETWORK = "1") and ${url} is not cached`, { hint: "run once with network access, or point DEBIAN_MIRROR at a local repository (file://)" });
  }
  if (url.startsWith("file://")) {
    const path = decodeURIComponent(new URL(url).pathname);
    if (!existsSync(path)) throw new FetchError(`${what}: ${path} does not exist`);
    return readFileSync(path);
  }
  const scheme = url.slice(0, url.indexOf(":")).toLowerCase();
  const hook = kiln.hooks.fetch.get(scheme);
  if (!hook?.isUsed()) throw new FetchError(`${what}: no fetcher for ${scheme}:// (is @kiln/fetch-http in KILN_PLUGINS?)`);
  const dir = join(String(d.getVar("DL_DIR") ?? join(String(d.getVar("TOPDIR")), "downloads")), "debian", "tmp");
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `${process.pid}.${randomBytes(6).toString("hex")}`);
  try {
    await hook.promise(url, tmp, d);
    return readFileSync(tmp);
  } catch (cause) {
    throw new FetchError(`${what}: cannot download ${url}: ${(cause as Error).message}`, { cause });
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Check `file` with gpgv against `keyring`; returns the signed text. */
async function verifySignature(signed: Buffer, keyring: string, what: string): Promise<void> {
  if (!existsSync(keyring)) throw new KilnError("FATAL", `${what}: keyring ${keyring} does not exist`, { hint: "set DEBIAN_KEYRING to the archive's keyring (an OpenPGP keyring file)" });
  let result;
  try {
    result = await (await loadExeca())("gpgv", ["--keyring", keyring, "--status-fd", "1", "-"], { input: signed, reject: false });
  } catch (cause) {
    throw new KilnError("FATAL", `${what}: cannot run gpgv`, { hint: "install gpgv", cause });
  }
  const status = String(result.stdout);
  // VALIDSIG is gpgv's word that a signature is good and made by a key of the keyring
  if (result.exitCode !== 0 || !/^\[GNUPG:\] VALIDSIG /m.test(status)) {
    const why = String(result.stderr).trim().split("\n").slice(-2).join("; ");
    throw new KilnError("FATAL", `${what}: the signature does not verify against ${keyring}${why ? ` (${why})` : ""}`, {
      hint: "nothing from this suite was used; check DEBIAN_MIRROR and DEBIAN_KEYRING",
    });
  }
}

/** How long a verified InRelease is trusted without gpgv when its bytes and the keyring are unchanged. */
const VERIFIED_FOR_MS = 3_600_000;

/** The signed text of a clearsigned message (RFC 4880 7.1: dash-escaping undone). */
export function clearsignedText(text: string): string {
  const lines = text.split("\n");
  const start = lines.indexOf("-----BEGIN PGP SIGNED MESSAGE-----");
  const end = lines.indexOf("-----BEGIN PGP SIGNATURE-----");
  if (start < 0 || end < 0) return "";
  let i = start + 1;
  while (i < end && lines[i].trim() !== "") i++; // armor headers (Hash: ...)
  return lines
    .slice(i + 1, end)
    .map((l) => (l.startsWith("- ") ? l.slice(2) : l))
    .join("\n");
}

function parseRelease(text: string, what: string): { date: string; validUntil: string; files: Map<string, { sha256: string; size: number }> } {
  const fields = parseControl(text) as Record<string, string | string[]>;
  const list = fields.SHA256;
  if (!Array.isArray(list)) throw new KilnError("FATAL", `${what}: no SHA256 list in the Release`, { hint: "apt archives list every index with its sha256" });
  const files = new Map<string, { sha256: string; size: number }>();
  for (const line of list) {
    const [hash, size, path] = line.trim().split(/\s+/);
    if (hash && path) files.set(path, { sha256: hash.toLowerCase(), size: Number(size) });
  }
  return { date: String(fields.Date ?? ""), validUntil: String(fields["Valid-Until"] ?? ""), files };
}

export function suiteDir(d: DataStore, cfg: SuiteConfig): string {
  return join(String(d.getVar("DL_DIR")), "debian", mirrorKey(cfg.mirror), "dists", cfg.suite);
}

/**
 * The suite's InRelease, fetched (unless BB_NO_NETWORK, which uses the last verified
 * copy) and verified; the verified copy replaces the kept one only once it verified.
 */
export async function fetchRelease(kiln: Kiln, d: DataStore, cfg: SuiteConfig): Promise<ReleaseFile> {
  const what = `Debian suite ${cfg.suite}`;
  const kept = join(suiteDir(d, cfg), "InRelease");
  const offline = String(d.getVar("BB_NO_NETWORK") ?? "") === "1" && !cfg.mirror.startsWith("file:");
  let signed: Buffer;
  if (offline) {
    if (!existsSync(kept)) throw new FetchError(`${what}: network access is disabled (BB_NO_NETWORK = "1") and no InRelease is cached in ${kept}`, { hint: "parse once with network access" });
    signed = readFileSync(kept);
  } else {
    signed = await download(kiln, `${cfg.mirror.replace(/\/+$/, "")}/dists/${cfg.suite}/InRelease`, d, what);
  }
  // the same bytes this build verified against the same keyring within the hour need no
  // gpgv again (a parse of a cached suite spent more on gpgv and loading execa than on
  // its 63,000 recipes); older than that, gpgv sees keys that expired meanwhile
  const verified = `${kept}.verified`;
  const keyringSum = existsSync(cfg.keyring) ? sha256(readFileSync(cfg.keyring)) : "";
  const [prevSum, prevKeyring, prevTime] = existsSync(verified) ? readFileSync(verified, "utf8").trim().split(" ") : [];
  const fresh = prevSum === sha256(signed) && prevKeyring === keyringSum && Date.now() - Number(prevTime) < VERIFIED_FOR_MS && existsSync(kept) && readFileSync(kept).equals(signed);
  if (!fresh) await verifySignature(signed, cfg.keyring, `${what} InRelease`);
  const text = clearsignedText(signed.toString("utf8"));
  if (!text) throw new KilnError("FATAL", `${what}: InRelease is not a clearsigned message`);
  const release = parseRelease(text, what);
  // as apt: a Release past its Valid-Until is refused when fetched (a mirror serving an
  // old, validly signed index would otherwise freeze the suite); a kept one read
  // offline is what this build verified before, and may be rebuilt from
  if (!offline && release.validUntil && String(d.getVar("DEBIAN_CHECK_VALID_UNTIL") ?? "1") !== "0") {
    const until = Date.parse(release.validUntil);
    if (Number.isFinite(until) && until < Date.now()) {
      throw new KilnError("FATAL", `${what}: the Release expired on ${release.validUntil} (Valid-Until)`, {
        hint: 'the mirror is stale or replays an old index; set DEBIAN_CHECK_VALID_UNTIL = "0" to accept it anyway',
      });
    }
  }
  if (!offline && (!existsSync(kept) || !readFileSync(kept).equals(signed))) writeAtomic(kept, signed);
  if (!fresh) writeAtomic(verified, Buffer.from(`${sha256(signed)} ${keyringSum} ${Date.now()}\n`));
  return { date: release.date, files: release.files, sha256: sha256(signed), path: kept };
}

/**
 * Each component's Packages index for the architecture: the first of `.xz`, `.gz`
 * the Release lists, from DL_DIR when a file with that sha256 is there, else fetched
 * and checked against the Release's sha256 before it is kept.
 */
export async function fetchPackagesFiles(kiln: Kiln, d: DataStore, cfg: SuiteConfig, release: ReleaseFile): Promise<PackagesFile[]> {
  const out: PackagesFile[] = [];
  const byHash = join(String(d.getVar("DL_DIR")), "debian", "by-hash");
  for (const component of cfg.components) {
    const base = `${component}/binary-${cfg.arch}/Packages`;
    const text = release.files.get(base);
    const found = [".xz", ".gz"].map((ext) => ({ path: base + ext, entry: release.files.get(base + ext) })).find((c) => c.entry);
    if (!found?.entry) throw new KilnError("FATAL", `Debian suite ${cfg.suite}: the Release lists no ${base}.xz or ${base}.gz`, { hint: `check DEBIAN_COMPONENTS ("${cfg.components.join(" ")}") and DEBIAN_ARCH ("${cfg.arch}")` });
    const file = join(byHash, found.entry.sha256);
    if (!existsSync(file)) {
      const data = await download(kiln, `${cfg.mirror.replace(/\/+$/, "")}/dists/${cfg.suite}/${found.path}`, d, `Debian suite ${cfg.suite} ${found.path}`);
      const actual = sha256(data);
      if (actual !== found.entry.sha256) {
        throw new KilnError("FATAL", `Debian suite ${cfg.suite}: ${found.path} has sha256 ${actual}, but the signed Release says ${found.entry.sha256}`, {
          hint: "the mirror is inconsistent or tampered with; nothing from this file was used",
        });
      }
      writeAtomic(file, data);
    }
    out.push({ component, path: found.path, sha256: found.entry.sha256, textSha256: text?.sha256 ?? found.entry.sha256, file });
  }
  return out;
}

/**
 * The text of a Packages file kept by fetchPackagesFiles, decoded as latin1: every
 * field kiln reads is ASCII but descriptions, and a one-byte string (and the
 * substrings parsing cuts from it) is half the size in memory and in the parsed-index
 * cache of one a single UTF-8 character would make two-byte. packages-index.ts
 * decodes the summaries that hold UTF-8 again.
 */
export async function packagesText(p: PackagesFile): Promise<string> {
  return (await decompress(readFileSync(p.file), p.path.endsWith(".gz") ? "gz" : "xz")).toString("latin1");
}
