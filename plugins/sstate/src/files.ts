/** Writes that no reader ever sees half-done: a temp name in the same directory, then rename. */
import { createHash } from "node:crypto";
import { createReadStream, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export function tempName(path: string): string {
  return `${path}.tmp.${process.pid}.${Math.random().toString(36).slice(2, 8)}`;
}

export function writeAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempName(path);
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeAtomic(path, `${JSON.stringify(value, null, 1)}\n`);
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}
