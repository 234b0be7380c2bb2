/**
 * do_patch: SRC_URI entries ending in .patch or .diff (or with `apply=yes`), in
 * SRC_URI order, applied with `patch -p<striplevel, default 1>` in S (or
 * `patchdir`, relative to S); `apply=no` skips one. A patch that does not apply is
 * an error naming the patch and what patch said about the failing hunk.
 */
import { loadExeca } from "../util/lazy-modules.js";
import { isAbsolute, join } from "node:path";
import type { DataStore } from "../data/datastore.js";
import { FetchError } from "../errors.js";
import { localPath } from "./download.js";
import { fetchedName, srcUris } from "./uri.js";

export async function patchSources(d: DataStore): Promise<string[]> {
  const s = String(d.getVar("S"));
  const applied: string[] = [];
  for (const u of srcUris(d)) {
    const name = fetchedName(u);
    const isPatch = /\.(patch|diff)$/.test(name) || u.params.apply === "yes";
    if (!isPatch || u.params.apply === "no") continue;
    const cwd = u.params.patchdir ? (isAbsolute(u.params.patchdir) ? u.params.patchdir : join(s, u.params.patchdir)) : s;
    const strip = u.params.striplevel ?? "1";
    const r = await (await loadExeca())("patch", [`-p${strip}`, "--batch", "--forward", "--no-backup-if-mismatch", "-i", localPath(u, d)], { cwd, reject: false, all: true });
    if (r.exitCode !== 0) {
      throw new FetchError(`Applying patch ${name} failed in ${cwd}:\n${(r.all ?? "").trim()}`, { url: u.url });
    }
    applied.push(name);
  }
  return applied;
}
