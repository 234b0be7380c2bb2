/**
 * Libraries imported on first use, not when kiln starts: most commands never need
 * them, and a warm `kiln -p` took ~300 ms, of which execa's import was ~70.
 */
import type { execa as Execa } from "execa";

let loaded: typeof Execa | undefined;

export async function loadExeca(): Promise<typeof Execa> {
  return (loaded ??= (await import("execa")).execa);
}

let tarStream: typeof import("tar-stream") | undefined;

/** tar-stream, imported on first use (~13 ms a command that reads no tar need not pay). */
export async function loadTarStream(): Promise<typeof import("tar-stream")> {
  return (tarStream ??= (await import("tar-stream")).default);
}
