/**
 * do_unpack (BitBake's fetch2 unpack): every SRC_URI entry (unless `unpack=0`) into
 * WORKDIR (or `subdir`): tar archives — .tar, .tar.gz/.tgz, .tar.xz/.txz, .tar.zst,
 * .tar.bz2/.tbz2 —, .zip, and .deb/.ipk packages (their data member, as BitBake)
 * are extracted with every member checked (nothing escapes the destination; errors
 * name the archive and the member); other files are copied.
 */
import { copyFileSync, createReadStream, createWriteStream, cpSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, isAbsolute, join, posix, relative, resolve } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { loadExeca } from "../util/lazy-modules.js";
import type { DataStore } from "../data/datastore.js";
import { FetchError } from "../errors.js";
import type { KilnHooks } from "../hooks.js";
import { extractTarStream } from "../util/safe-tar.js";
import { readAr } from "../util/ar.js";
import { localPath } from "./download.js";
import { fetchedName, srcUris } from "./uri.js";

type Kind = "tar" | "gz" | "xz" | "zst" | "bz2";

/** Extract a .deb/.ipk package's data member (an ar of control and data tars). */
async function unpackPackage(path: string, dest: string, what: string): Promise<void> {
  const buf = readFileSync(path);
  // old ipk files are a gzipped tar holding data.tar.gz
  const members = buf[0] === 0x1f && buf[1] === 0x8b ? await tarMembers(Readable.from(buf).pipe(createGunzip())) : readAr(buf, what);
  const data = members.find((m) => m.name.startsWith("data.tar"));
  if (!data) throw new FetchError(`${what} has no data.tar member`);
  const kind = archiveKind(data.name) ?? "tar";
  const tmp = `${dest}/.kiln-unpack-${process.pid}-${data.name}`;
  writeFileSync(tmp, data.data);
  try {
    const { stream, done } = await tarStream(tmp, kind);
    await Promise.all([extractTarStream(stream, dest, `${what} (${data.name})`), done]);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** The members of a (small) tar stream, in memory. */
async function tarMembers(input: NodeJS.ReadableStream): Promise<{ name: string; data: Buffer }[]> {
  const tar = (await import("tar-stream")).default;
  const extract = tar.extract();
  const out: { name: string; data: Buffer }[] = [];
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      out.push({ name: entry.header.name.replace(/^\.\//, ""), data: Buffer.concat(chunks) });
    }
  })();
  await Promise.all([pipeline(input, extract), done]);
  return out;
}

/** Extract a .zip with yauzl, every entry checked like a tar member. */
async function unpackZip(path: string, dest: string, what: string): Promise<void> {
  const yauzl = (await import("yauzl")).default;
  const root = resolve(dest);
  const zip = await new Promise<import("yauzl").ZipFile>((ok, fail) => yauzl.open(path, { lazyEntries: true, decodeStrings: false }, (e, z) => (e ? fail(e) : ok(z))));
  await new Promise<void>((ok, fail) => {
    zip.on("error", fail);
    zip.on("end", () => ok());
    zip.on("entry", (entry: import("yauzl").Entry) => {
      // names decoded here (not by yauzl) so the check and its message are kiln's, as for tar
      const fileName = (entry.fileName as unknown as Buffer).toString("utf8");
      const name = posix.normalize(fileName.replace(/\/+$/, ""));
      if (isAbsolute(fileName) || name === ".." || name.startsWith("../") || name.split("/").includes("..")) {
        zip.close();
        return fail(new FetchError(`${what}: member '${fileName}' escapes its directory`));
      }
      const target = join(root, name);
      if (fileName.endsWith("/")) {
        mkdirSync(target, { recursive: true });
        return zip.readEntry();
      }
      zip.openReadStream(entry, (e, stream) => {
        if (e || !stream) return fail(e ?? new Error("no stream"));
        mkdirSync(dirname(target), { recursive: true });
        const mode = (entry.externalFileAttributes >>> 16) & 0o7777;
        if (((entry.externalFileAttributes >>> 16) & 0o170000) === 0o120000) {
          const chunks: Buffer[] = [];
          stream.on("data", (c: Buffer) => chunks.push(c));
          stream.on("end", () => {
            const link = Buffer.concat(chunks).toString();
            const points = isAbsolute(link) ? link : resolve(dirname(target), link);
            if (isAbsolute(link) || relative(root, points).startsWith("..")) {
              zip.close();
              return fail(new FetchError(`${what}: link '${fileName}' -> '${link}' points outside its directory`));
            }
            symlinkSync(link, target);
            zip.readEntry();
          });
          return;
        }
        pipeline(stream, createWriteStream(target, mode ? { mode } : {})).then(() => zip.readEntry(), fail);
      });
    });
    zip.readEntry();
  });
}

function archiveKind(name: string): Kind | undefined {
  if (/\.(tar\.gz|tgz)$/.test(name)) return "gz";
  if (/\.(tar\.xz|txz)$/.test(name)) return "xz";
  if (/\.tar\.zst$/.test(name)) return "zst";
  if (/\.(tar\.bz2|tbz2?)$/.test(name)) return "bz2";
  if (/\.tar$/.test(name)) return "tar";
  return undefined;
}

/** The decompressed tar bytes of an archive, and a promise for the decompressor's end. */
async function tarStream(path: string, kind: Kind): Promise<{ stream: NodeJS.ReadableStream; done: Promise<unknown> }> {
  switch (kind) {
    case "tar":
      return { stream: createReadStream(path), done: Promise.resolve() };
    case "gz":
      return { stream: createReadStream(path).pipe(createGunzip()), done: Promise.resolve() };
    case "xz": {
      const lzma = (await import("lzma-native")).default;
      return { stream: createReadStream(path).pipe(lzma.createDecompressor()), done: Promise.resolve() };
    }
    case "zst":
    case "bz2": {
      const p = (await loadExeca())(kind === "zst" ? "zstd" : "bzip2", ["-d", "-c", path], { stdout: "pipe", buffer: false, stdin: "ignore" });
      return { stream: p.stdout as unknown as NodeJS.ReadableStream, done: p };
    }
  }
}

export async function unpackSources(d: DataStore, hooks?: KilnHooks): Promise<void> {
  const workdir = String(d.getVar("WORKDIR"));
  for (const u of srcUris(d)) {
    if (u.params.unpack === "0" || u.params.unpack === "no") continue;
    const special = hooks?.unpack.get(u.scheme);
    if (special?.isUsed()) {
      const dest = u.params.subdir ? join(workdir, u.params.subdir) : workdir;
      mkdirSync(dest, { recursive: true });
      if (await special.promise(u, dest, d)) continue;
    }
    const from = localPath(u, d);
    const dest = u.params.subdir ? join(workdir, u.params.subdir) : workdir;
    mkdirSync(dest, { recursive: true });
    const name = fetchedName(u);
    if (/\.(deb|ipk|zip)$/.test(name)) {
      try {
        if (name.endsWith(".zip")) await unpackZip(from, dest, `archive ${basename(from)}`);
        else await unpackPackage(from, dest, `package ${basename(from)}`);
      } catch (err) {
        throw new FetchError(`Unpacking ${u.url} failed: ${(err as Error).message}`, { url: u.url, cause: err });
      }
      continue;
    }
    const kind = archiveKind(name);
    if (!kind) {
      // plain files (and directories, for file://) are copied, as BitBake does
      const target = join(dest, u.scheme === "file" ? u.path.replace(/^\/+/, "") : name);
      mkdirSync(join(target, ".."), { recursive: true });
      if (statSync(from).isDirectory()) cpSync(from, target, { recursive: true });
      else copyFileSync(from, target);
      continue;
    }
    const strip = u.params.striplevel ? Number(u.params.striplevel) : 0;
    try {
      const { stream, done } = await tarStream(from, kind);
      await Promise.all([extractTarStream(stream, dest, `archive ${basename(from)}`, { strip }), done]);
    } catch (err) {
      throw new FetchError(`Unpacking ${u.url} failed: ${(err as Error).message}`, { url: u.url, cause: err });
    }
  }
}
