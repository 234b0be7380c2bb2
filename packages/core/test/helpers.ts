/** Test helpers: temporary build trees written from a { path: text } map. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { RecipeInfo } from "../src/index.js";

export interface TempTree {
  dir: string;
  path(rel: string): string;
  write(rel: string, text: string): string;
  remove(): void;
}

export function tempTree(files: Record<string, string> = {}): TempTree {
  const dir = mkdtempSync(join(tmpdir(), "kiln-test-"));
  const tree: TempTree = {
    dir,
    path: (rel) => join(dir, rel),
    write(rel, text) {
      const p = join(dir, rel);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, text);
      return p;
    },
    remove() {
      if (!process.env.KILN_KEEP_TMP) rmSync(dir, { recursive: true, force: true });
    },
  };
  for (const [rel, text] of Object.entries(files)) tree.write(rel, text);
  return tree;
}

/** A build directory with two layers, in the shape `kiln init` makes. */
export function twoLayerBuild(extra: Record<string, string> = {}): TempTree {
  return tempTree({
    "build/conf/bblayers.conf": `BBPATH = "\${TOPDIR}"\nBBFILES ?= ""\nBBLAYERS ?= "\${TOPDIR}/../meta-a \${TOPDIR}/../meta-b"\n`,
    "build/conf/local.conf": `MACHINE = "m1"\nDISTRO = "d1"\n`,
    "meta-a/conf/layer.conf":
      `BBPATH .= ":\${LAYERDIR}"\nBBFILES += "\${LAYERDIR}/recipes/*.bb \${LAYERDIR}/recipes/*.bbappend"\n` +
      `BBFILE_COLLECTIONS += "a"\nBBFILE_PATTERN_a = "^\${LAYERDIR}/"\nBBFILE_PRIORITY_a = "5"\n`,
    "meta-b/conf/layer.conf":
      `BBPATH .= ":\${LAYERDIR}"\nBBFILES += "\${LAYERDIR}/recipes/*.bb \${LAYERDIR}/recipes/*.bbappend"\n` +
      `BBFILE_COLLECTIONS += "b"\nBBFILE_PATTERN_b = "^\${LAYERDIR}/"\nBBFILE_PRIORITY_b = "7"\nLAYERDEPENDS_b = "a"\n`,
    ...extra,
  });
}

/** Run `fn`, expect it to throw an instance of `type` with `code`; return the error. */
export function expectThrown<T extends Error & { code: string }>(
  fn: () => unknown,
  type: abstract new (...args: never[]) => T,
  code: string,
): T {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  if (!(caught instanceof type)) throw new Error(`expected a ${type.name}, got ${caught === undefined ? "no error" : String(caught)}`);
  if (caught.code !== code) throw new Error(`expected code ${code}, got ${caught.code}`);
  return caught;
}

/** A RecipeInfo record of PN `pn` (one package of its own name, no tasks), as the parse index would hold it. */
export function recipeRecord(pn: string, extra: Partial<RecipeInfo> = {}): RecipeInfo {
  return {
    file: `/l/${pn}.bb`,
    appends: [],
    pn,
    pe: "",
    pv: "1.0",
    pr: "r0",
    provides: [pn],
    depends: [],
    packages: [pn],
    rdepends: {},
    rrecommends: {},
    rprovides: {},
    defaultPreference: 0,
    excludeFromWorld: false,
    stamp: `/s/${pn}`,
    tasks: [],
    ...extra,
  };
}
