/**
 * What every benchmark script shares: a temp dir per run (kept with KILN_KEEP_TMP=1),
 * the machine line, the "failed, not slow" error, and running only as a script.
 */
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** kiln (or a check) failed: the message is printed and the script exits 1. A slow result is never this. */
export class BenchFailed extends Error {}

export function progress(message: string): void {
  process.stderr.write(message + "\n");
}

/** "node v20…, 2 x <cpu model>" */
export function machine(): string {
  const cpus = os.cpus();
  return `node ${process.version}, ${cpus.length} x ${cpus[0]?.model ?? "unknown CPU"}`;
}

/**
 * Run `body` with a fresh temp dir `kiln-bench-<name>-…` (a Ctrl-C leaves it
 * behind; its name says what it is), removed afterwards unless KILN_KEEP_TMP=1.
 */
export async function inTempDir(name: string, body: (root: string, keep: boolean) => Promise<number> | number): Promise<number> {
  const keep = process.env["KILN_KEEP_TMP"] === "1";
  const root = mkdtempSync(path.join(os.tmpdir(), `kiln-bench-${name}-`));
  try {
    return await body(root, keep);
  } catch (err) {
    if (!(err instanceof BenchFailed)) throw err;
    process.stderr.write(err.message);
    return 1;
  } finally {
    if (keep) progress(`kept ${root} (KILN_KEEP_TMP=1)`);
    else rmSync(root, { recursive: true, force: true });
  }
}

/** True when the module at `metaUrl` is the script being run (not imported). */
export function isMain(metaUrl: string): boolean {
  return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(metaUrl));
}
