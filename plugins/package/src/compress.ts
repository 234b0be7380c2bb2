/**
 * Compressors for package members (deb/ipk `*.tar.<ext>`, rpm payloads): a whole
 * member in, its compressed bytes out, with deterministic output (gzip without a
 * timestamp; xz and zstd are deterministic for a given level and thread count).
 */
import { execa } from "execa";
import { gunzipSync, gzipSync } from "node:zlib";

export type Compression = "xz" | "gz" | "zst";

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function compress(data: Buffer, how: Compression): Promise<Buffer> {
  if (how === "gz") return gzipSync(data, { level: 9 });
  if (how === "zst") return (await execa("zstd", ["-q", "-c", "-19", "-T1"], { input: data, encoding: "buffer" })).stdout as unknown as Buffer;
  const lzma = (await import("lzma-native")).default;
  const c = lzma.createCompressor({ preset: 6, threads: 1 });
  const out = collect(c);
  c.end(data);
  return out;
}

export { collect };

/** The inverse of `compress`, by member extension (`gz`, `xz`, `zst`, or none). */
export async function decompress(data: Buffer, how: string): Promise<Buffer> {
  if (how === "" || how === "tar") return data;
  if (how === "gz") return gunzipSync(data);
  if (how === "zst") return (await execa("zstd", ["-q", "-d", "-c"], { input: data, encoding: "buffer" })).stdout as unknown as Buffer;
  if (how === "xz") {
    const lzma = (await import("lzma-native")).default;
    const c = lzma.createDecompressor();
    const out = collect(c);
    c.end(data);
    return out;
  }
  throw new Error(`unknown compression '${how}'`);
}
