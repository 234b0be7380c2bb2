/** The layer the sstate tests build: lib (stages a file) and app (DEPENDS lib, reads it from the sysroot). */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { clearFileCache, Kiln, type TaskFailedEvent } from "@kiln/core";
import { plugin } from "../src/index.js";

export function writeLayer(root: string, localExtra = ""): void {
  const write = (rel: string, text: string) => {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
  };

  write("build/conf/bblayers.conf", `BBPATH = "\${TOPDIR}"\nBBLAYERS = "\${TOPDIR}/../meta-s"\n`);
  write("build/conf/local.conf", `MACHINE = "m1"\nLIBFLAGS ?= "-O2"\n${localExtra}\n`);
  write(
    "meta-s/conf/layer.conf",
    `BBPATH .= ":\${LAYERDIR}"\nBBFILES += "\${LAYERDIR}/recipes/*.bb"\nBBFILE_COLLECTIONS += "s"\nBBFILE_PATTERN_s = "^\${LAYERDIR}/"\nBBFILE_PRIORITY_s = "5"\n`,
  );
  write(
    "meta-s/classes/stage.bbclass",
    [
      `STAGE_OUT = "\${WORKDIR}/stage-out"`,
      `SHARED_SYSROOT = "\${TMPDIR}/shared-sysroot"`,
      // the base class's do_populate_sysroot (a placeholder there) made a real sstate task, as in OE
      `do_populate_sysroot() {`,
      `\tmkdir -p \${STAGE_OUT}/usr/share/\${PN}`,
      `\tcp \${B}/built.txt \${STAGE_OUT}/usr/share/\${PN}/\${PN}.txt`,
      `\tln -sf \${PN}.txt \${STAGE_OUT}/usr/share/\${PN}/link.txt`,
      // a script that knows where it is installed: the build path is inside it
      `\tmkdir -p \${STAGE_OUT}/usr/bin`,
      `\tprintf '#!/bin/sh\\necho %s\\n' "\${SHARED_SYSROOT}/usr/bin" > \${STAGE_OUT}/usr/bin/where-\${PN}`,
      `\tchmod 755 \${STAGE_OUT}/usr/bin/where-\${PN}`,
      `}`,
      `do_populate_sysroot[noexec] = ""`,
      `do_populate_sysroot[dirs] = "\${B}"`,
      `do_populate_sysroot[cleandirs] = "\${STAGE_OUT}"`,
      `do_populate_sysroot[sstate-inputdirs] = "\${STAGE_OUT}"`,
      `do_populate_sysroot[sstate-outputdirs] = "\${SHARED_SYSROOT}"`,
      `SSTATETASKS += "do_populate_sysroot"`,
      `addtask populate_sysroot_setscene`,
      ``,
    ].join("\n"),
  );
  write("meta-s/recipes/lib_1.0.bb", `inherit stage\ndo_compile() {\n\techo "lib built with \${LIBFLAGS}" > \${B}/built.txt\n}\ndo_compile[dirs] = "\${B}"\n`);
  write(
    "meta-s/recipes/app_1.0.bb",
    `DEPENDS = "lib"\ninherit stage\ndo_configure() {\n\tcat \${SHARED_SYSROOT}/usr/share/lib/lib.txt > \${B}/from-lib.txt\n}\ndo_configure[dirs] = "\${B}"\ndo_compile() {\n\t{ echo app; cat \${B}/from-lib.txt; } > \${B}/built.txt\n}\ndo_compile[dirs] = "\${B}"\n`,
  );
}

/** Build `target` in `root/build` with the sstate plugin; what started, failed, warned. */
export async function build(root: string, target = "app", env: Record<string, string> = {}) {
  clearFileCache();
  const kiln = new Kiln({ cwd: join(root, "build"), env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/root", ...env }, plugins: [plugin] });
  const started: string[] = [];
  const failed: TaskFailedEvent[] = [];
  const warnings: string[] = [];
  kiln.hooks.taskStarted.tap("test", (e) => void started.push(e.id));
  kiln.hooks.taskFailed.tap("test", (e) => void failed.push(e));
  kiln.hooks.log.tap("test", (e) => void (e.level === "warn" && warnings.push(e.message)));
  const graph = await kiln.taskGraph({ targets: [target] });
  const done = await kiln.build(graph, { threads: 2 });
  return { done, started: started.sort(), failed, warnings };
}
