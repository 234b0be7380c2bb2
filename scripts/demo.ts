/**
 * kiln's main job, as the README's first command runs it: build the demo
 * distribution (fixtures/meta-demo, plus the fourth backend of
 * fixtures/meta-extra-backend) from source — every recipe packaged as ipk, deb, rpm
 * and tar.zst, and the image demo-image — print what was built, then delete TMPDIR and
 * build again from shared state, printing how many tasks were restored vs run and
 * both times.
 */
import { spawn } from "node:child_process";
import { existsSync, lstatSync, readdirSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { makeDemoSources } from "../fixtures/meta-demo/scripts/make-sources.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const build = join(root, "fixtures", "demo-build");
const kilnBin = join(root, "packages", "cli", "bin", "kiln.js");
const TARGET = process.argv[2] ?? "demo-image";

interface BuildRun {
  seconds: number;
  ran: string[];
  restored: string[];
}

/** `kiln --json TARGET`: which tasks ran and which were restored (setscene), and the wall time. */
function kiln(args: string[]): Promise<BuildRun> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [kilnBin, "--json", ...args], { cwd: build, stdio: ["ignore", "pipe", "inherit"] });
    const ran: string[] = [];
    const restored: string[] = [];
    let rest = "";
    const failures: string[] = [];
    child.stdout.on("data", (chunk: Buffer) => {
      const lines = (rest + chunk.toString("utf8")).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) {
        if (!line.startsWith("{")) continue;
        const e = JSON.parse(line) as { type: string; id?: string; message?: string; logTail?: string[] };
        if (e.type === "TaskSucceeded" && e.id) (e.id.endsWith("_setscene") ? restored : ran).push(e.id);
        if (e.type === "TaskFailed") failures.push(`${e.id}: ${e.message}\n${(e.logTail ?? []).join("\n")}`);
      }
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) reject(new Error(`kiln ${args.join(" ")} failed (exit ${code})\n${failures.join("\n")}`));
      else resolve({ seconds, ran, restored });
    });
  });
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map((f) => join(dir, String(f)))
    .filter((f) => lstatSync(f).isFile());
}

const kb = (n: number) => (n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(2)} MiB`);

function report(): void {
  const deploy = join(build, "tmp", "deploy");
  const packageTypes = { ipk: ".ipk", deb: ".deb", rpm: ".rpm", tarzst: ".tar.zst" } as const;
  console.log("\nPackages (tmp/deploy/<type>/<arch>/):");
  for (const [type, ext] of Object.entries(packageTypes)) {
    const files = filesUnder(join(deploy, type)).filter((f) => f.endsWith(ext));
    const size = files.reduce((n, f) => n + statSync(f).size, 0);
    const names = files.map((f) => relative(join(deploy, type), f)).sort();
    console.log(`  ${type.padEnd(7)} ${String(files.length).padStart(3)} packages, ${kb(size)}`);
    for (const n of names) console.log(`          ${n}`);
  }
  const images = filesUnder(join(deploy, "images")).filter((f) => /\.rootfs\.|\.manifest$/.test(f) && !lstatSync(f).isSymbolicLink());
  console.log("\nImage (tmp/deploy/images/):");
  for (const f of images.sort()) console.log(`  ${relative(root, f)}  ${kb(statSync(f).size)}`);
}

async function main(): Promise<void> {
  console.log(`== kiln demo: the demo distribution, ${TARGET}, from source`);
  const sums = await makeDemoSources(join(build, "mirror"));
  console.log(`sources: ${sums.size} tarballs in fixtures/demo-build/mirror (PREMIRRORS; the upstream host is never asked)`);
  for (const dir of ["tmp", "sstate-cache", "downloads"]) rmSync(join(build, dir), { recursive: true, force: true });

  console.log(`\n== kiln ${TARGET} (cold: nothing built, empty shared state)`);
  const cold = await kiln([TARGET]);
  console.log(`built in ${cold.seconds.toFixed(1)} s: ${cold.ran.length} tasks run, ${cold.restored.length} restored`);
  report();

  console.log(`\n== rm -rf tmp; kiln ${TARGET} (shared state only)`);
  rmSync(join(build, "tmp"), { recursive: true, force: true });
  const warm = await kiln([TARGET]);
  console.log(`rebuilt in ${warm.seconds.toFixed(1)} s: ${warm.restored.length} tasks restored from shared state, ${warm.ran.length} run`);
  if (warm.ran.length) console.log(`  run: ${warm.ran.join(" ")}`);
  console.log(`\ncold ${cold.seconds.toFixed(1)} s → from shared state ${warm.seconds.toFixed(1)} s (${(cold.seconds / warm.seconds).toFixed(1)}× faster)`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
