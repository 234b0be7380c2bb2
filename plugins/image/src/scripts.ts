/**
 * Maintainer scripts at rootfs time, OpenEmbedded's convention: a script runs with
 * `D` set to the root filesystem (and the rootfs as its working directory); one that
 * must run on the target exits non-zero when `$D` is set. A postinst that fails is
 * therefore deferred — saved as `${sysconfdir}/<type>-postinsts/NNN-<pkg>`, where
 * OpenEmbedded's run-postinsts finds it at first boot — and noted, not an error.
 */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadExeca } from "@kiln/core";

export interface ScriptRun {
  code: number;
  output: string;
}

export interface ScriptOptions {
  rootfs: string;
  /** Where the script file is written to run it. */
  scratch: string;
  env: Record<string, string>;
  args: string[];
  signal: AbortSignal;
}

export async function runScript(pkg: string, kind: string, body: string, o: ScriptOptions): Promise<ScriptRun> {
  mkdirSync(o.scratch, { recursive: true });
  const file = join(o.scratch, `${pkg}.${kind}`);
  writeFileSync(file, body, { mode: 0o755 });
  const r = await (await loadExeca())("sh", [file, ...o.args], {
    cwd: o.rootfs,
    env: { ...o.env, D: o.rootfs },
    extendEnv: false,
    reject: false,
    all: true,
    stdin: "ignore",
    cancelSignal: o.signal,
  });
  if (r.isCanceled) throw new Error(`${pkg}.${kind} was interrupted`);
  return { code: r.exitCode ?? 1, output: String(r.all ?? "") };
}

/** Save deferred postinsts where OE's run-postinsts looks: `${rootfs}${sysconfdir}/<type>-postinsts/NNN-<pkg>`. */
export function saveDeferred(rootfs: string, sysconfdir: string, type: string, deferred: { name: string; body: string }[]): string[] {
  if (!deferred.length) return [];
  const dir = join(rootfs, sysconfdir, `${type}-postinsts`);
  mkdirSync(dir, { recursive: true });
  return deferred.map((p, i) => {
    const file = join(dir, `${String(i).padStart(3, "0")}-${p.name}`);
    writeFileSync(file, p.body);
    chmodSync(file, 0o755);
    return file;
  });
}
