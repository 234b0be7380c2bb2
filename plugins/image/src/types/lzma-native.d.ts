// The part of lzma-native (no bundled types) that kiln uses: xz streams.
declare module "lzma-native" {
  import type { Transform } from "node:stream";
  export function createCompressor(options?: { preset?: number; threads?: number; check?: number }): Transform;
  export function createDecompressor(options?: Record<string, unknown>): Transform;
  const lzma: { createCompressor: typeof createCompressor; createDecompressor: typeof createDecompressor };
  export default lzma;
}
