/** `kiln init` and `kiln layers show|add|remove`: editing conf/bblayers.conf. */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Kiln, LayerError, UsageError, metaLayerDir } from "@kiln/core";
import type { Output } from "./output.js";

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp.${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export function initBuildDir(dir: string, io: Output): number {
  const build = resolve(dir);
  const conf = join(build, "conf");
  mkdirSync(conf, { recursive: true });
  const bblayers = join(conf, "bblayers.conf");
  const local = join(conf, "local.conf");
  if (existsSync(bblayers)) {
    io.out(`${bblayers} exists; left as it is\n`);
  } else {
    writeAtomic(
      bblayers,
      `# Layers of this build directory (edit with 'kiln layers add|remove DIR').\n` +
        `BBPATH = "\${TOPDIR}"\n` +
        `BBFILES ?= ""\n\n` +
        `BBLAYERS ?= " \\\n  ${metaLayerDir()} \\\n  "\n`,
    );
    io.out(`wrote ${bblayers}\n`);
  }
  if (!existsSync(local)) {
    writeAtomic(
      local,
      `# Local settings of this build directory.\n` +
        `MACHINE ??= "qemux86-64"\n` +
        `DISTRO ??= "kiln"\n` +
        `# BB_NUMBER_THREADS = "4"\n` +
        `# DL_DIR ?= "\${TOPDIR}/downloads"\n` +
        `# SSTATE_DIR ?= "\${TOPDIR}/sstate-cache"\n`,
    );
    io.out(`wrote ${local}\n`);
  }
  io.out(`build directory ready: cd ${build} && kiln layers show\n`);
  return 0;
}

function bblayersPath(kiln: Kiln): string {
  const c = kiln.configuration();
  if (!c.bblayersConf) throw new LayerError("no conf/bblayers.conf found", { hint: "create a build directory with 'kiln init DIR'" });
  return c.bblayersConf;
}

export function showLayers(kiln: Kiln, io: Output): number {
  const c = kiln.configuration();
  if (!c.layers.length) {
    io.out("no layers (no conf/bblayers.conf): BBFILES comes straight from the configuration\n");
    return 0;
  }
  const rows = c.layers.map((l) => [l.collection ?? "-", l.path, String(l.priority)]);
  const w0 = Math.max(5, ...rows.map((r) => r[0].length));
  const w1 = Math.max(4, ...rows.map((r) => r[1].length));
  io.out(`${"layer".padEnd(w0)}  ${"path".padEnd(w1)}  priority\n`);
  io.out(`${"=".repeat(w0 + w1 + 12)}\n`);
  for (const [a, b, p] of rows) io.out(`${a.padEnd(w0)}  ${b.padEnd(w1)}  ${p}\n`);
  return 0;
}

export function addLayer(kiln: Kiln, dir: string, io: Output): number {
  const layer = resolve(dir);
  if (!existsSync(join(layer, "conf", "layer.conf"))) {
    throw new LayerError(`${layer} is not a layer: it has no conf/layer.conf`);
  }
  const file = bblayersPath(kiln);
  const current = String(kiln.configuration().d.getVar("BBLAYERS") ?? "").split(/\s+/).filter(Boolean);
  if (current.includes(layer)) {
    io.out(`${layer} is already in BBLAYERS\n`);
    return 0;
  }
  const text = readFileSync(file, "utf8");
  writeAtomic(file, `${text.replace(/\n*$/, "\n")}BBLAYERS += "${layer}"\n`);
  // check the result parses before keeping it
  try {
    new Kiln(kiln.options).configuration();
  } catch (err) {
    writeAtomic(file, text);
    throw err;
  }
  io.out(`added ${layer}\n`);
  return 0;
}

export function removeLayer(kiln: Kiln, dir: string, io: Output): number {
  const layer = resolve(dir);
  const file = bblayersPath(kiln);
  const current = String(kiln.configuration().d.getVar("BBLAYERS") ?? "").split(/\s+/).filter(Boolean);
  if (!current.includes(layer)) throw new UsageError(`${layer} is not in BBLAYERS`);
  const text = readFileSync(file, "utf8");
  writeAtomic(file, `${text.replace(/\n*$/, "\n")}BBLAYERS:remove = "${layer}"\n`);
  io.out(`removed ${layer}\n`);
  return 0;
}
