/**
 * Extracting a tar stream safely (shared by shared state restores and do_unpack):
 * every member is checked before anything is written — no absolute path, no `..`,
 * no symlink pointing out of the destination, only files, directories and symlinks
 * — and a failure is an error naming the archive and the member.
 */
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, normalize, posix, relative, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { KilnError } from "../errors.js";

/** A member name made safe to join under a destination, or an error naming it. */
function safeName(what: string, name: string): string {
  const n = posix.normalize(name.replace(/\/+$/, ""));
  if (isAbsolute(name) || n === ".." || n.startsWith("../") || n.split("/").includes("..")) {
    throw new KilnError("FATAL", `${what}: member '${name}' escapes its directory`);
  }
  return n;
}

/**
 * Extract the tar read from `input` under `dest` (which exists). `what` names the
 * archive in errors (e.g. "sstate object /path" or "archive foo.tar.gz").
 * `strip` drops leading path components, as tar's --strip-components.
 */
export async function extractTarStream(input: NodeJS.ReadableStream, dest: string, what: string, options: { strip?: number } = {}): Promise<void> {
  const root = resolve(dest);
  const extract = tar.extract();
  const done = (async () => {
    for await (const entry of extract) {
      const h = entry.header;
      let name = safeName(what, h.name);
      if (options.strip) {
        name = name.split("/").slice(options.strip).join("/");
        if (!name) {
          entry.resume();
          continue;
        }
      }
      const target = join(root, name);
      if (name === "." || target === root) {
        entry.resume();
        continue;
      }
      mkdirSync(dirname(target), { recursive: true });
      if (h.type === "directory") {
        mkdirSync(target, { recursive: true });
        entry.resume();
      } else if (h.type === "symlink") {
        const link = h.linkname ?? "";
        const points = isAbsolute(link) ? normalize(link) : resolve(dirname(target), link);
        if (isAbsolute(link) || relative(root, points).startsWith("..")) {
          throw new KilnError("FATAL", `${what}: link '${h.name}' -> '${link}' points outside its directory`);
        }
        symlinkSync(link, target);
        entry.resume();
      } else if (h.type === "file" || h.type === "contiguous-file") {
        const chunks: Buffer[] = [];
        for await (const c of entry) chunks.push(c as Buffer);
        writeFileSync(target, Buffer.concat(chunks));
        chmodSync(target, (h.mode ?? 0o644) & 0o7777);
      } else {
        throw new KilnError("FATAL", `${what}: member '${h.name}' is a ${h.type}, which kiln does not extract`);
      }
    }
  })();
  await Promise.all([pipeline(input, extract), done]);
}
