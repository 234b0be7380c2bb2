/**
 * Extracting a tar stream safely (shared by shared state restores and do_unpack):
 * every member is checked before anything is written — no absolute path, no `..`,
 * nothing written through a symlink, no symlink leading out of the destination; files,
 * directories, symlinks and hard links only — and a failure is an error naming the
 * archive and the member.
 */
import { chmodSync, closeSync, fchmodSync, linkSync, lstatSync, mkdirSync, openSync, readlinkSync, symlinkSync, unlinkSync, writeSync } from "node:fs";
import { isAbsolute, join, posix, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { loadTarStream } from "./lazy-modules.js";
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
 *
 * Paths are checked against the tree as it is on disk, not only as written: a member
 * is never written through a symlink (a member below one is refused — a tar of a tree
 * never lists any — so a chain such as `l -> .`, `l/m -> ..`, `m/x` cannot reach
 * outside), a file replaces whatever non-directory was at its name without following
 * it, and a symlink's target is resolved through the links already extracted (and all
 * of them again at the end, as a later link can change where an earlier one leads).
 * Hard links must name an earlier regular file of the archive.
 *
 * `anyLinkTarget`: symlinks may point anywhere (absolute, or above the tree) — for
 * package payloads, whose links are meant for the installed system (`/etc/mtab ->
 * /proc/mounts`); extraction still never writes through one.
 */
export async function extractTarStream(input: NodeJS.ReadableStream, dest: string, what: string, options: { strip?: number; anyLinkTarget?: boolean } = {}): Promise<void> {
  const root = resolve(dest);
  const fail = (message: string) => new KilnError("FATAL", `${what}: ${message}`);
  /** lstat, or undefined when there is nothing there (also when a parent is a file). */
  const lstatNoThrow = (path: string) => {
    try {
      return lstatSync(path, { throwIfNoEntry: false });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOTDIR") return undefined;
      throw err;
    }
  };
  /** Relative directories known to be real directories (never symlinks) in this extraction. */
  const real = new Set<string>([""]);
  const parentOf = (rel: string) => (rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/")) : "");
  /** `rel` as a real directory, made when missing; refused when it (or a parent) is a symlink or a file. */
  const realDir = (rel: string, member: string, create: boolean): void => {
    if (real.has(rel)) return;
    realDir(parentOf(rel), member, create);
    const st = lstatSync(join(root, rel), { throwIfNoEntry: false });
    if (!st && create) mkdirSync(join(root, rel));
    else if (!st) throw fail(`member '${member}' needs '${rel}', which the archive does not have`);
    else if (st.isSymbolicLink()) throw fail(`member '${member}' would be extracted through the symlink '${rel}'`);
    else if (!st.isDirectory()) throw fail(`member '${member}' would be extracted below the file '${rel}'`);
    real.add(rel);
  };
  /** Whether the symlink at `rel` pointing to `link` leads outside the root, following the links on disk. */
  const escapes = (rel: string, link: string): boolean => {
    if (isAbsolute(link)) return true;
    const parts = parentOf(rel).split("/").filter(Boolean);
    // reversed, so the next part is popped off the end (shift() made long targets quadratic)
    const queue = link.split("/").filter((p) => p && p !== ".").reverse();
    let hops = 0;
    while (queue.length) {
      const part = queue.pop() as string;
      if (part === "..") {
        if (!parts.length) return true;
        parts.pop();
        continue;
      }
      parts.push(part);
      const at = join(root, ...parts);
      if (!lstatNoThrow(at)?.isSymbolicLink()) continue;
      const next = readlinkSync(at);
      if (isAbsolute(next) || ++hops > 40) return true;
      parts.pop();
      for (const p of next.split("/").reverse()) if (p && p !== ".") queue.push(p);
    }
    return false;
  };
  /** Clear the way for a non-directory at `rel`: what is there is removed (not followed); a directory is refused. */
  const replaceable = (rel: string, member: string): string => {
    const target = join(root, rel);
    const st = lstatSync(target, { throwIfNoEntry: false });
    if (st?.isDirectory()) throw fail(`member '${member}' is not a directory, but the tree has a directory there`);
    if (st) unlinkSync(target);
    return target;
  };
  const strip = (name: string) => (options.strip ? name.split("/").slice(options.strip).join("/") : name);
  const links: [string, string][] = [];
  /** Directory modes, applied at the end (deepest last listed first): a 0555 one would keep its contents out. */
  const dirModes: [string, number][] = [];
  const extract = (await loadTarStream()).extract();
  const done = (async () => {
    for await (const entry of extract) {
      const h = entry.header;
      const name = strip(safeName(what, h.name));
      if (!name || name === ".") {
        entry.resume();
        continue;
      }
      realDir(parentOf(name), h.name, true);
      if (h.type === "directory") {
        realDir(name, h.name, true);
        if (h.mode !== undefined) dirModes.push([join(root, name), h.mode & 0o7777]);
        entry.resume();
      } else if (h.type === "symlink") {
        const link = h.linkname ?? "";
        // PATH_MAX: symlink() refuses longer targets anyway
        if (!link || Buffer.byteLength(link) > 4095) throw fail(`link '${h.name}' has ${link ? "a target longer than 4095 bytes" : "no target"}`);
        if (!options.anyLinkTarget && escapes(name, link)) throw fail(`link '${h.name}' -> '${link}' points outside its directory`);
        symlinkSync(link, replaceable(name, h.name));
        links.push([name, link]);
        entry.resume();
      } else if (h.type === "link") {
        const from = strip(safeName(what, h.linkname ?? ""));
        if (from && from !== name) realDir(parentOf(from), h.name, false);
        if (!from || from === name || !lstatSync(join(root, from), { throwIfNoEntry: false })?.isFile()) throw fail(`hard link '${h.name}' -> '${h.linkname}' does not name an earlier regular file`);
        linkSync(join(root, from), replaceable(name, h.name));
        entry.resume();
      } else if (h.type === "file" || h.type === "contiguous-file") {
        // written as it arrives: a member is not held whole (nor limited to a Buffer's size)
        const fd = openSync(replaceable(name, h.name), "wx", 0o600);
        try {
          for await (const c of entry) {
            const chunk = c as Buffer;
            for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off);
          }
          fchmodSync(fd, (h.mode ?? 0o644) & 0o7777);
        } finally {
          closeSync(fd);
        }
      } else {
        throw fail(`member '${h.name}' is a ${h.type}, which kiln does not extract`);
      }
    }
    // a link made later can change where an earlier one leads
    for (const [dir, mode] of dirModes.reverse()) chmodSync(dir, mode);
    if (!options.anyLinkTarget) {
      for (const [name, link] of links) {
        if (!escapes(name, link)) continue;
        unlinkSync(join(root, name)); // not left behind for whatever reads the tree next
        throw fail(`link '${name}' -> '${link}' points outside its directory`);
      }
    }
  })();
  await Promise.all([pipeline(input, extract), done]);
}
