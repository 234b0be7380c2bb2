// The part of lzma-native (no bundled types) that kiln uses here: an xz compressing stream.
declare module "lzma-native" {
  import type { Transform } from "node:stream";
  export function createCompressor(options?: { preset?: number; threads?: number; check?: number }): Transform;
  const lzma: { createCompressor: typeof createCompressor };
  export default lzma;
}
