/**
 * @kiln/fetch-git: git SRC_URI entries as BitBake's git fetcher: a bare clone in
 * `DL_DIR/git2/<host.path>` (updated under a lock), the revision from
 * `SRCREV` / `SRCREV_<name>` — `AUTOREV` asks the remote (`git ls-remote`) for the
 * head of `branch` — checked to be on that branch, and unpacked as a checkout in
 * `WORKDIR/<destsuffix, default "git">`. `protocol` picks how to reach the
 * remote (default git; `file` for a local repository). BB_NO_NETWORK allows only
 * what the clone in DL_DIR already has. BB_GENERATE_MIRROR_TARBALLS = "1" also
 * writes `DL_DIR/git2_<name>.tar.gz` (deterministic) for mirrors to serve.
 */
import { loadExeca } from "@kiln/core";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { FetchError, parseSrcUri, removeExisting, withLocks, type DataStore, type Kiln, type KilnPlugin, type SrcUri } from "@kiln/core";

export const PLUGIN_NAME = "kiln:fetch-git";
export const schemes = ["git"] as const;

async function git(args: string[], cwd?: string): Promise<string> {
  const r = await (await loadExeca())("git", args, { cwd, reject: false, env: { GIT_TERMINAL_PROMPT: "0" } });
  if (r.exitCode !== 0) throw new Error(`git ${args.join(" ")} failed: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout.trim();
}

export function remoteUrl(u: SrcUri): string {
  const protocol = u.params.protocol ?? "git";
  return protocol === "file" ? `file://${u.path}` : `${protocol}://${u.host}${u.path}`;
}

export function cloneDir(u: SrcUri, d: DataStore): string {
  const name = `${u.host}${u.path}`.replace(/^\/+/, "").replace(/[/:]/g, ".");
  return join(String(d.getVar("DL_DIR")), "git2", name || "repo");
}

/** SRCREV (or SRCREV_<name>); AUTOREV becomes the branch head from ls-remote. */
async function revision(u: SrcUri, d: DataStore): Promise<string> {
  const name = u.params.name;
  // a `rev=` parameter pins the revision in SRC_URI itself
  const v = String(u.params.rev ?? (name ? d.getVar(`SRCREV_${name}`) : undefined) ?? d.getVar("SRCREV") ?? "").trim();
  if (!v || v === "INVALID") throw new FetchError(`${u.url}: no SRCREV set`, { url: u.url, hint: "set SRCREV to a commit, or to ${AUTOREV}" });
  if (v !== "AUTOINC" && v !== "AUTOREV") return v;
  if (String(d.getVar("BB_NO_NETWORK") ?? "") === "1" && u.params.protocol !== "file") {
    throw new FetchError(`${u.url}: AUTOREV needs the network, and BB_NO_NETWORK = "1"`, { url: u.url });
  }
  const branch = u.params.branch ?? "master";
  const line = await git(["ls-remote", remoteUrl(u), `refs/heads/${branch}`]);
  const sha = line.split(/\s+/)[0];
  if (!sha) throw new FetchError(`${u.url}: branch ${branch} not found on the remote`, { url: u.url });
  return sha;
}

async function hasCommit(dir: string, rev: string): Promise<boolean> {
  return existsSync(dir) && (await (await loadExeca())("git", ["cat-file", "-e", `${rev}^{commit}`], { cwd: dir, reject: false })).exitCode === 0;
}

async function fetchGit(u: SrcUri, d: DataStore): Promise<true> {
  const rev = await revision(u, d);
  const dir = cloneDir(u, d);
  mkdirSync(join(dir, ".."), { recursive: true });
  await withLocks([`${dir}.lock`], async () => {
    if (await hasCommit(dir, rev)) return;
    if (String(d.getVar("BB_NO_NETWORK") ?? "") === "1" && u.params.protocol !== "file") {
      throw new FetchError(`${u.url}: revision ${rev} is not in ${dir}, and BB_NO_NETWORK = "1"`, { url: u.url });
    }
    try {
      if (!existsSync(dir)) {
        const tmp = `${dir}.tmp.${process.pid}`;
        rmSync(tmp, { recursive: true, force: true });
        await git(["clone", "--bare", "--mirror", remoteUrl(u), tmp]);
        await (await loadExeca())("mv", [tmp, dir]);
      } else {
        await git(["fetch", "--prune", remoteUrl(u), "+refs/*:refs/*"], dir);
      }
    } catch (err) {
      throw new FetchError(`Fetching ${u.url} failed: ${(err as Error).message}`, { url: u.url, cause: err });
    }
    if (!(await hasCommit(dir, rev))) throw new FetchError(`${u.url}: revision ${rev} does not exist in the repository`, { url: u.url });
    if (String(d.getVar("BB_GENERATE_MIRROR_TARBALLS") ?? "") === "1") await writeMirrorTarball(u, d);
  });
  const branch = u.params.branch;
  if (branch && u.params.nobranch !== "1") {
    const contains = await (await loadExeca())("git", ["branch", "--contains", rev, "--list", branch], { cwd: dir, reject: false });
    if (!contains.stdout.trim()) throw new FetchError(`${u.url}: revision ${rev} is not on branch ${branch}`, { url: u.url, hint: "set nobranch=1 to allow it" });
  }
  return true;
}

/** do_cleanall: the clone, its mirror tarball and their stamps, under the clone's lock (as bitbake's Git.clean). */
async function cleanGit(u: SrcUri, d: DataStore): Promise<string[]> {
  const dir = cloneDir(u, d);
  return withLocks([`${dir}.lock`], async () => removeExisting([dir, `${dir}.done`, mirrorTarball(u, d), `${mirrorTarball(u, d)}.done`]));
}

/** `git2_<name>.tar.gz` in DL_DIR: the clone as one file mirrors can serve (BB_GENERATE_MIRROR_TARBALLS). */
export function mirrorTarball(u: SrcUri, d: DataStore): string {
  const dir = cloneDir(u, d);
  return join(String(d.getVar("DL_DIR")), `git2_${dir.slice(dir.lastIndexOf("/") + 1)}.tar.gz`);
}

async function writeMirrorTarball(u: SrcUri, d: DataStore): Promise<void> {
  const tarball = mirrorTarball(u, d);
  const dir = cloneDir(u, d);
  const tmp = `${tarball}.tmp.${process.pid}`;
  // deterministic: sorted, root-owned, mtimes clamped, so an unchanged clone gives the same bytes
  const r = await (await loadExeca())("sh", ["-c", `tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$1" -cf - . | gzip -n > "$2"`, "sh", dir, tmp], { reject: false });
  if (r.exitCode !== 0) {
    rmSync(tmp, { force: true });
    throw new FetchError(`Writing the mirror tarball of ${u.url} failed: ${r.stderr.trim()}`, { url: u.url });
  }
  await (await loadExeca())("mv", [tmp, tarball]);
}

async function unpackGit(u: SrcUri, dest: string, d: DataStore): Promise<true> {
  const rev = await revision(u, d);
  const target = join(dest, u.params.destsuffix ?? "git");
  rmSync(target, { recursive: true, force: true });
  try {
    await git(["clone", "--no-checkout", "--quiet", cloneDir(u, d), target]);
    await git(["-c", "advice.detachedHead=false", "checkout", "--quiet", rev], target);
  } catch (err) {
    throw new FetchError(`Unpacking ${u.url} failed: ${(err as Error).message}`, { url: u.url, cause: err });
  }
  return true;
}

/** Branch heads asked of remotes by one kiln (one build): `url#branch` -> commit. */
type Heads = Map<string, Promise<string | undefined>>;

function headOf(u: SrcUri, heads: Heads): Promise<string | undefined> {
  const branch = u.params.branch ?? "master";
  const key = `${remoteUrl(u)}#${branch}`;
  let p = heads.get(key);
  if (!p) {
    p = git(["ls-remote", remoteUrl(u), `refs/heads/${branch}`]).then(
      (line) => line.split(/\s+/)[0] || undefined,
      () => undefined,
    );
    heads.set(key, p);
  }
  return p;
}

/**
 * AUTOREV in task hashes (BitBake resolves it when it computes signatures): the
 * branch head goes into do_fetch's taskhash, so a new upstream commit reruns the
 * fetch and everything after it. The head is asked once per remote and branch.
 */
async function autorevInputs(recipe: { indexVars?: Record<string, string> }, config: DataStore, heads: Heads): Promise<string[]> {
  const srcrev = recipe.indexVars?.SRCREV ?? "";
  if (srcrev !== "AUTOINC" && srcrev !== "AUTOREV") return [];
  const out: string[] = [];
  for (const entry of (recipe.indexVars?.SRC_URI ?? "").split(/\s+/).filter((e) => e.startsWith("git://"))) {
    const u = parseSrcUri(entry);
    if (u.params.rev) continue;
    const offline = String(config.getVar("BB_NO_NETWORK") ?? "") === "1" && u.params.protocol !== "file";
    out.push(`autorev:${u.url}#${u.params.branch ?? "master"}=${offline ? "offline" : ((await headOf(u, heads)) ?? "unknown")}`);
  }
  return out;
}

export const plugin: KilnPlugin<Kiln> = {
  name: PLUGIN_NAME,
  apply(kiln) {
    // taskhashInputs is synchronous: the heads are looked up when the graph's recipes are known
    const resolved = new Map<unknown, string[]>();
    const heads: Heads = new Map();
    kiln.hooks.taskhashInputs.tap(PLUGIN_NAME, (inputs, task, recipe) => (task.task === "do_fetch" ? [...inputs, ...(resolved.get(recipe) ?? [])] : inputs));
    kiln.hooks.graphPrepared.tapPromise(PLUGIN_NAME, async (recipes) => {
      const config = kiln.configuration().d;
      for (const r of recipes) resolved.set(r, await autorevInputs(r, config, heads));
    });
    for (const scheme of schemes) {
      kiln.hooks.fetchSource.for(scheme).tapPromise(PLUGIN_NAME, (u, d) => fetchGit(u, d));
      kiln.hooks.cleanSource.for(scheme).tapPromise(PLUGIN_NAME, (u, d) => cleanGit(u, d));
      kiln.hooks.unpack.for(scheme).tapPromise(PLUGIN_NAME, (u, dest, d) => unpackGit(u, dest, d));
    }
  },
};

export default plugin;
