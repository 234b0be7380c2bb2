/**
 * What deb and ipk share: the ar layout (`debian-binary`, `control.tar.*`,
 * `data.tar.*`) read with core's `readAr`, the payload unpacked with core's
 * `extractTarStream`, and packages found through the `Packages` index of each
 * architecture directory of the deploy dir (else by their conventional file name).
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { extractTarStream, KilnError, readAr, tarEntries } from "@kiln/core";
import { decompress } from "@kiln/package";
import type { MaintainerScript, MemberInfo, OpenedPackage } from "./backend.js";
import { MAINTAINER_SCRIPTS } from "./backend.js";
import { field, parseStanzas } from "./control.js";

/** A package-level error: names the package and the file. */
export function packageError(name: string, file: string, message: string, cause?: unknown): KilnError {
  return new KilnError("FATAL", `package ${name} (${file}): ${message}`, { details: { package: name, file }, cause });
}

/**
 * Read a tar held in memory: every member's mode and mtime, and (when `contents`)
 * the content of regular files, by name without `./`.
 */
function scanTar(data: Buffer, what: string, contents: boolean): { files: Map<string, Buffer>; members: Map<string, MemberInfo> } {
  const files = new Map<string, Buffer>();
  const members = new Map<string, MemberInfo>();
  try {
    for (const e of tarEntries(data)) {
      const name = e.name.replace(/^\.\//, "").replace(/\/+$/, "");
      if (name) members.set(name, { mode: e.mode & 0o7777, mtime: Math.floor(e.mtime) });
      if (contents && (e.type === "file" || e.type === "contiguous-file")) files.set(name, e.body);
    }
  } catch (err) {
    throw new Error(`${what} is not a valid tar archive: ${(err as Error).message}`);
  }
  return { files, members };
}

export interface OpenArOptions {
  /**
   * Unpack the (decompressed) payload tar into `dest` instead of core's
   * `extractTarStream` — for formats whose payloads hold what that extractor refuses
   * (Debian's absolute symlinks and hard links). `what` names the package for errors.
   */
  extractPayload?(payload: Buffer, dest: string, what: string): Promise<void>;
  /** Start decompressing the payload now (it runs off the main thread), for a caller that opens the next package while installing this one. */
  eager?: boolean;
  /** How the payload is decompressed (`ext`: the member's extension), e.g. through shared decoder processes; default @kiln/package's `decompress`. */
  decompressPayload?(data: Buffer, ext: string): Promise<Buffer>;
  /**
   * Given the decompressed payload once `extract` is done with it (the package forgets
   * it: a later extract decompresses again), so its memory can take the next one.
   */
  releasePayload?(payload: Buffer): void;
}

/** Open a .deb/.ipk: control fields, scripts, conffiles, other control members; the payload stays packed until `extract`. */
export async function openArPackage(file: string, expectedName: string, options: OpenArOptions = {}): Promise<OpenedPackage> {
  let members;
  try {
    members = readAr(readFileSync(file), file);
  } catch (err) {
    throw packageError(expectedName, file, (err as Error).message, err);
  }
  const control = members.find((m) => m.name.startsWith("control.tar"));
  const data = members.find((m) => m.name.startsWith("data.tar"));
  if (!control || !data) throw packageError(expectedName, file, `no ${control ? "data" : "control"}.tar member: not a package`);
  const ext = (name: string) => name.replace(/^(control|data)\.tar\.?/, "");
  const unpacked = async (m: { name: string; data: Buffer }, how = decompress) => {
    try {
      return await how(m.data, ext(m.name));
    } catch (err) {
      throw packageError(expectedName, file, `member ${m.name} cannot be decompressed: ${(err as Error).message}`, err);
    }
  };
  let payload: Promise<Buffer> | undefined;
  const payloadTar = () => (payload ??= unpacked(data, options.decompressPayload));
  // started before the control member is read, so that packages opened one after
  // another queue their payloads in that order (the order a caller unpacks them in);
  // a failure is reported by extract(), not as an unhandled rejection meanwhile
  if (options.eager) payloadTar().catch(() => undefined);
  let controlFiles: Map<string, Buffer>;
  try {
    controlFiles = scanTar(await unpacked(control), control.name, true).files;
  } catch (err) {
    if (err instanceof KilnError) throw err;
    throw packageError(expectedName, file, (err as Error).message, err);
  }
  const text = controlFiles.get("control")?.toString("utf8");
  if (text === undefined) throw packageError(expectedName, file, `${control.name} has no control file`);
  const stanza = parseStanzas(text)[0] ?? [];
  const name = field(stanza, "Package") ?? "";
  const version = field(stanza, "Version") ?? "";
  const arch = field(stanza, "Architecture") ?? "";
  if (!name || !version) throw packageError(expectedName, file, "control file has no Package or Version");
  const scripts: Partial<Record<MaintainerScript, string>> = {};
  for (const s of MAINTAINER_SCRIPTS) {
    const body = controlFiles.get(s);
    if (body) scripts[s] = body.toString("utf8");
  }
  const conffiles = (controlFiles.get("conffiles")?.toString("utf8") ?? "").split("\n").map((l) => l.trim()).filter(Boolean);
  const extra: Record<string, Buffer> = {};
  for (const [k, v] of controlFiles) if (k !== "control" && k !== "conffiles" && !(MAINTAINER_SCRIPTS as readonly string[]).includes(k)) extra[k] = v;

  return {
    file,
    name,
    version,
    arch,
    control: text,
    scripts,
    conffiles,
    extra,
    async extract(dest) {
      const tar = await payloadTar();
      try {
        if (options.extractPayload) return await options.extractPayload(tar, dest, `package ${name} (${file})`);
        // links are for the installed system (`/etc/mtab -> /proc/mounts`); installPackage checks paths through them
        await extractTarStream(Readable.from([tar]), dest, `package ${name} (${file})`, { anyLinkTarget: true });
      } finally {
        if (options.releasePayload) {
          payload = undefined;
          options.releasePayload(tar);
        }
      }
    },
    async members() {
      try {
        return scanTar(await payloadTar(), data.name, false).members;
      } catch (err) {
        throw packageError(name, file, (err as Error).message, err);
      }
    },
  };
}

export interface FeedEntry {
  name: string;
  version: string;
  arch: string;
  file: string;
}

/** Every package the `Packages` indexes of `deployDir`'s architecture directories list. */
export function readFeeds(deployDir: string): FeedEntry[] {
  const out: FeedEntry[] = [];
  if (!existsSync(deployDir)) return out;
  for (const dir of readdirSync(deployDir).sort()) {
    const index = join(deployDir, dir, "Packages");
    if (!statSync(join(deployDir, dir)).isDirectory() || !existsSync(index)) continue;
    for (const s of parseStanzas(readFileSync(index, "utf8"))) {
      const name = field(s, "Package");
      const filename = field(s, "Filename");
      if (!name || !filename) continue;
      out.push({ name, version: field(s, "Version") ?? "", arch: field(s, "Architecture") ?? "", file: join(deployDir, dir, filename) });
    }
  }
  return out;
}

/**
 * The file of package `name` at `version`: from the feed indexes, else the
 * conventional `<name>_<version>_<arch>.<ext>` in the package's architecture
 * directory (an index can lag behind when two builds share the deploy dir).
 */
export function findInFeed(feeds: FeedEntry[], name: string, version: string, fallback: string): string | undefined {
  // the package's own architecture directory first (a deploy dir may hold several machines' packages)
  const hits = feeds.filter((e) => e.name === name && e.version === version && existsSync(e.file));
  const hit = hits.find((e) => dirname(e.file) === dirname(fallback)) ?? hits[0];
  if (hit) return hit.file;
  return existsSync(fallback) ? fallback : undefined;
}
