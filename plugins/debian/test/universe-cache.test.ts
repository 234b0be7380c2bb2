/** The cached universe: the same choices as buildUniverse, found lazily, rebuilt when damaged. */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { deserialize, serialize } from "node:v8";
import { describe, expect, it } from "vitest";
import { allRows, indexRecords, type PackageRows } from "../src/packages-index.js";
import { buildUniverse, resolveRootfs, type Universe } from "../src/resolve.js";
import type { DebianPackage } from "../src/types.js";
import { cachedUniverse } from "../src/universe-cache.js";
import { tempDirs } from "./temp-dirs.js";

const tmp = tempDirs("kiln-universe-");

const stanza = (name: string, version: string, fields: Record<string, string> = {}) =>
  Object.entries({ Package: name, Version: version, Architecture: "amd64", Priority: "optional", Filename: `pool/${name}_${version}.deb`, SHA256: "0".repeat(64), ...fields })
    .map(([k, v]) => `${k}: ${v}`)
    .join("\n");

// several versions of a name (newest wins), other architectures, versioned and plain Provides
const INDEX = [
  stanza("base-files", "12.4", { Essential: "yes", Priority: "required" }),
  stanza("mawk", "1.3.4-3", { Provides: "awk", Priority: "required", Depends: "libc6 (>= 2.36)" }),
  stanza("gawk", "1:5.2.1-2", { Provides: "awk" }),
  stanza("libc6", "2.36-9", { Priority: "required" }),
  stanza("libc6", "2.36-9+deb12u4", { Priority: "required" }),
  stanza("libc6", "2.37-1", { Architecture: "arm64" }),
  stanza("apt", "2.6.1", { Priority: "required", Depends: "libc6, awk" }),
  stanza("exim4", "4.96-15", { Provides: "mail-transport-agent, libfoo-abi (= 3)" }),
  stanza("postfix", "3.7.10-0", { Provides: "mail-transport-agent" }),
  stanza("doc-all", "1.0", { Architecture: "all", Provides: "doc (= 1.0)" }),
  stanza("arm-only", "1.0", { Architecture: "arm64" }),
].join("\n\n");

async function rowsOf(text = INDEX): Promise<PackageRows> {
  const cache = tmp();
  // the second read comes from the index cache: the lazily made records
  await indexRecords(cache, "idx", "Packages", async () => text);
  return indexRecords(cache, "idx", "Packages", async () => text);
}

const plain = (u: Universe) => ({
  byName: [...u.byName].map(([name, p]) => [name, JSON.parse(JSON.stringify(p))]),
  providers: [...u.providers.keys()].sort().map((name) => [name, u.providers.get(name)?.map((e) => [e.pkg.name, e.pkg.version, e.version ?? null])]),
  size: [u.byName.size, u.providers.size],
});

describe("cachedUniverse", () => {
  it("reads back what buildUniverse chose, in the same order, with the same providers", async () => {
    const rows = await rowsOf();
    const file = join(tmp(), "u.v8");
    const built = cachedUniverse(file, { rows }, "amd64");
    const cached = cachedUniverse(file, { rows }, "amd64");
    expect(cached.byName).not.toBeInstanceOf(Map); // from the file, not built again
    expect(plain(cached)).toEqual(plain(buildUniverse(allRows(rows), "amd64")));
    expect(plain(cached)).toEqual(plain(built));
    expect(cached.byName.get("libc6")?.version).toBe("2.36-9+deb12u4");
    expect(cached.byName.has("arm-only")).toBe(false);
    expect(cached.byName.get("nothing")).toBeUndefined();
    expect(cached.providers.get("libfoo-abi")?.map((e) => [e.pkg.name, e.version])).toEqual([["exim4", "3"]]);
    expect(cached.providers.get("awk")?.map((e) => e.pkg.name)).toEqual(["gawk", "mawk"]);
    expect(cached.providers.has("nothing")).toBe(false);
    // one record per package: the provider's is byName's
    expect(cached.providers.get("awk")?.[1].pkg).toBe(cached.byName.get("mawk"));
    expect(resolveRootfs(cached, { variant: "minbase" }).packages.map((p) => p.name)).toEqual(
      resolveRootfs(buildUniverse(allRows(rows), "amd64"), { variant: "minbase" }).packages.map((p) => p.name),
    );
  });

  it("a lookup makes only the record it finds", async () => {
    const rows = await rowsOf();
    const file = join(tmp(), "u.v8");
    cachedUniverse(file, { rows }, "amd64");
    const fresh = await rowsOf();
    const made: number[] = [];
    const counting: PackageRows = { count: fresh.count, name: (i) => fresh.name(i), at: (i) => (made.push(i), fresh.at(i)) };
    const u = cachedUniverse(file, { rows: counting }, "amd64");
    expect(made).toEqual([]);
    expect([u.byName.has("libc6"), u.byName.has("nothing"), u.providers.has("awk")]).toEqual([true, false, true]);
    expect(made).toEqual([]); // has() makes no record
    expect(u.byName.get("apt")?.name).toBe("apt");
    expect(made).toHaveLength(1);
    expect(u.providers.get("mail-transport-agent")).toHaveLength(2);
    expect(made).toHaveLength(3);
  });

  it("a lock's records replace the index's of their names", async () => {
    const rows = await rowsOf();
    const pinned: DebianPackage[] = [{ ...(JSON.parse(JSON.stringify(allRows(rows)[1])) as DebianPackage), version: "1.3.4-1", provides: "awk, nawk" }];
    const file = join(tmp(), "u.v8");
    cachedUniverse(file, { rows, pinned }, "amd64");
    const cached = cachedUniverse(file, { rows, pinned }, "amd64");
    expect(cached.byName.get("mawk")).toBe(pinned[0]);
    expect(cached.providers.get("nawk")?.map((e) => e.pkg)).toEqual([pinned[0]]);
    const input = [...allRows(rows).filter((p) => p.name !== "mawk"), ...pinned];
    expect(plain(cached)).toEqual(plain(buildUniverse(input, "amd64")));
  });

  it("a damaged cache, or one of another architecture, is built again", async () => {
    const rows = await rowsOf();
    const file = join(tmp(), "u.v8");
    cachedUniverse(file, { rows }, "amd64");
    const stored = deserialize(readFileSync(file)) as { order: Int32Array };
    stored.order[0] = rows.count + 5; // a position past the rows
    writeFileSync(file, serialize(stored));
    const again = cachedUniverse(file, { rows }, "amd64");
    expect(again.byName).toBeInstanceOf(Map);
    expect(plain(again)).toEqual(plain(buildUniverse(allRows(rows), "amd64")));
    writeFileSync(file, "not a v8 serialisation");
    expect(plain(cachedUniverse(file, { rows }, "amd64"))).toEqual(plain(again));
    const arm = cachedUniverse(file, { rows }, "arm64");
    expect(arm.byName.get("libc6")?.version).toBe("2.37-1");
    expect(arm.byName.has("arm-only")).toBe(true);
  });
});
