/**
 * do_fetch's policy (DESIGN §7; BitBake's fetch2): every remote SRC_URI entry ends
 * up in DL_DIR under its file name, downloaded through a temp name while a lock is
 * held (a second build fetching the same file waits, then reuses it), checked
 * against `SRC_URI[sha256sum]` / `SRC_URI[<name>.sha256sum]` (a mismatch removes
 * the file and names both sums), and marked done (`<file>.done`, holding its sha256,
 * size and mtime). Candidate URLs
 * come from the `resolveUrls` hook (mirrors); each scheme's download from the
 * `fetch` hook (plugins). BB_NO_NETWORK forbids network schemes; a remote file
 * without a checksum is an error unless BB_STRICT_CHECKSUM = "0". file:// entries
 * are not downloaded; they must exist along FILESPATH.
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DataStore } from "../data/datastore.js";
import { FetchError } from "../errors.js";
import type { KilnHooks } from "../hooks.js";
import { withLocks } from "../run/locks.js";
import { removeExisting } from "../run/fs-small.js";
import { filesSearchPath, findLocalFile } from "../sig/file-checksums.js";
import { fetchedName, srcUris, type SrcUri } from "./uri.js";

/** Schemes that reach the network (BB_NO_NETWORK forbids them). */
const NETWORK = new Set(["http", "https", "ftp", "git", "gitsm", "svn", "hg", "sftp", "ssh"]);

export function sha256Of(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    createReadStream(path)
      .on("data", (c) => h.update(c))
      .on("error", reject)
      .on("end", () => resolve(h.digest("hex")));
  });
}

/** Where an entry's file is: DL_DIR for remote entries, along FILESPATH for file://. */
export function localPath(u: SrcUri, d: DataStore): string {
  if (u.scheme === "file") return findLocalFile(d, u.path);
  return join(String(d.getVar("DL_DIR")), fetchedName(u));
}

function expectedSum(u: SrcUri, d: DataStore): string | undefined {
  const name = u.params.name;
  const v = (name ? d.getVarFlag("SRC_URI", `${name}.sha256sum`) : undefined) ?? d.getVarFlag("SRC_URI", "sha256sum");
  return v ? String(v).trim().toLowerCase() : undefined;
}

/**
 * The done stamp's content: the file's sha256, size and mtime. As BitBake's donestamp
 * keeps the checksums, a later fetch trusts a file whose size and mtime are unchanged
 * instead of reading it again (a rootfs's 88 packages took 0.1 s of hashing per build).
 */
const doneStamp = (sha256: string, path: string) => {
  const st = statSync(path);
  return `${sha256} ${st.size} ${st.mtimeMs}\n`;
};

/** The file at `dest` is there, marked done, and has the expected content (rehashed when its stamp does not vouch for it). */
async function fetched(dest: string, done: string, expected: string | undefined): Promise<boolean> {
  if (!existsSync(done) || !existsSync(dest)) return false;
  if (!expected) return true;
  const [sha, size, mtime] = readFileSync(done, "utf8").trim().split(" ");
  const st = statSync(dest);
  if (sha === expected && size === String(st.size) && mtime === String(st.mtimeMs)) return true;
  if ((await sha256Of(dest)) !== expected) return false;
  writeFileSync(done, doneStamp(expected, dest));
  return true;
}

async function fetchOne(u: SrcUri, d: DataStore, hooks: KilnHooks): Promise<void> {
  const dest = localPath(u, d);
  const done = `${dest}.done`;
  const expected = expectedSum(u, d);
  const strict = String(d.getVar("BB_STRICT_CHECKSUM") ?? "1") !== "0";
  const valid = () => fetched(dest, done, expected);
  if (await valid()) return;
  mkdirSync(join(dest, ".."), { recursive: true });
  await withLocks([`${dest}.lock`], async () => {
    // another build may have fetched it while we waited for the lock
    if (await valid()) return;
    rmSync(done, { force: true });
    const candidates = hooks.resolveUrls.call([u.url], u, d);
    const noNetwork = String(d.getVar("BB_NO_NETWORK") ?? "") === "1";
    const failures: string[] = [];
    for (const url of candidates) {
      const scheme = url.slice(0, url.indexOf(":")).toLowerCase();
      if (noNetwork && NETWORK.has(scheme)) {
        failures.push(`${url}: network access is disabled (BB_NO_NETWORK = "1")`);
        continue;
      }
      const hook = hooks.fetch.get(scheme);
      if (!hook?.isUsed()) {
        failures.push(`${url}: no fetcher for the ${scheme}:// scheme (is its plugin in KILN_PLUGINS?)`);
        continue;
      }
      // a stable name (we hold the lock): a download cut short can be resumed next time
      const tmp = `${dest}.part`;
      try {
        const ok = await hook.promise(url, tmp, d);
        if (!ok || !existsSync(tmp)) throw new Error("the fetcher did not produce the file");
        const actual = await sha256Of(tmp);
        if (expected && actual !== expected) {
          rmSync(tmp, { force: true });
          throw new FetchError(`Checksum mismatch for ${url}: expected sha256 ${expected}, got ${actual}`, { url, details: { expected, actual } });
        }
        if (!expected && strict) {
          rmSync(tmp, { force: true });
          throw new FetchError(`No checksum for ${u.url}: add SRC_URI[${u.params.name ? `${u.params.name}.` : ""}sha256sum] = "${actual}"`, {
            url: u.url,
            hint: 'or set BB_STRICT_CHECKSUM = "0" to accept unchecked downloads',
          });
        }
        renameSync(tmp, dest);
        writeFileSync(done, doneStamp(actual, dest));
        return;
      } catch (err) {
        // a wrong checksum from upstream itself is the recipe's problem; from a mirror, try the next
        if (err instanceof FetchError && !err.message.startsWith("Checksum mismatch")) throw err;
        failures.push(`${url}: ${(err as Error).message}`);
      }
    }
    const mismatch = failures.find((f) => f.includes("Checksum mismatch"));
    throw new FetchError(mismatch ? mismatch.slice(mismatch.indexOf("Checksum")) : `Fetching ${u.url} failed:\n  ${failures.join("\n  ")}`, { url: u.url });
  });
}

/**
 * do_cleanall (BitBake's fetcher clean): the downloaded files of SRC_URI and their
 * .done stamps removed from DL_DIR, each under the lock its download takes; a source a
 * whole-source fetcher manages (a git clone) is removed by its `cleanSource` tap.
 * file:// entries stay. Returns the paths removed.
 */
export async function cleanSources(d: DataStore, hooks: KilnHooks): Promise<string[]> {
  const removed: string[] = [];
  for (const u of srcUris(d)) {
    if (u.scheme === "file") continue;
    if (hooks.fetchSource.get(u.scheme)?.isUsed()) {
      removed.push(...((await hooks.cleanSource.get(u.scheme)?.promise(u, d)) ?? []));
      continue;
    }
    const dest = localPath(u, d);
    if (!existsSync(dest) && !existsSync(`${dest}.done`)) continue;
    await withLocks([`${dest}.lock`], async () => {
      removed.push(...removeExisting([`${dest}.done`, dest]));
    });
  }
  return removed;
}

/** do_fetch: every SRC_URI entry present (remote ones in DL_DIR, checked). */
export async function fetchSources(d: DataStore, hooks: KilnHooks): Promise<void> {
  for (const u of srcUris(d)) {
    if (u.scheme === "file") {
      const path = localPath(u, d);
      if (!existsSync(path)) {
        throw new FetchError(`Unable to find file ${u.url} anywhere; searched: ${filesSearchPath(d).join(" ")}`, { url: u.url });
      }
      continue;
    }
    // a fetcher that manages the whole source (git) also decides what BB_NO_NETWORK allows
    const whole = hooks.fetchSource.get(u.scheme);
    if (whole?.isUsed() && (await whole.promise(u, d))) continue;
    await fetchOne(u, d, hooks);
  }
}
