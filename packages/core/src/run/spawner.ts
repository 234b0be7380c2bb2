/**
 * Running task shells through a small helper process (spawner-child.ts), started
 * once per kiln process with execa: the main process grows with the recipes it
 * holds, and fork() from a large process is slow. Each shell still gets its own
 * process group (so an interrupt kills everything it started) and writes straight
 * into the task log.
 */
import type { execa as Execa } from "execa";
import { loadExeca } from "../util/lazy-modules.js";

export interface SpawnRequest {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Where stdout and stderr go (appended). */
  log: string;
}

export interface SpawnedProcess {
  /** Resolves once the process runs (its pid is its process group). */
  started: Promise<number>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

interface Pending {
  started: [(pid: number) => void, (e: Error) => void];
  exited: [(r: { code: number | null; signal: NodeJS.Signals | null }) => void, (e: Error) => void];
  pid?: number;
}

type Reply = { id: number; pid?: number; code?: number | null; signal?: NodeJS.Signals | null; error?: string };

// from sources (tests run TypeScript directly) the helper still runs the compiled module
const childUrl = import.meta.url.endsWith(".ts")
  ? new URL("../../dist/run/spawner-child.js", import.meta.url)
  : new URL("./spawner-child.js", import.meta.url);

// execa is loaded on first use: its module tree costs ~80 ms of start-up that
// commands which run no task (kiln -p, getvar) should not pay
let execaFn: typeof Execa | undefined;

function launchSpawner(execa: typeof Execa) {
  return execa(process.execPath, [childUrl.pathname], {
    ipc: true,
    serialization: "json",
    stdio: ["ignore", "inherit", "inherit"],
    // its own process group: a terminal's Ctrl-C goes to kiln, which decides
    detached: true,
    reject: false,
    cleanup: true,
  });
}
type SpawnerChild = ReturnType<typeof launchSpawner>;

class Spawner {
  // wrapped: an execa subprocess is itself a promise (of its end), so it cannot be what a promise resolves to
  private child: Promise<{ child: SpawnerChild }> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  private ensure(): Promise<{ child: SpawnerChild }> {
    this.child ??= this.launch();
    return this.child;
  }

  private async launch(): Promise<{ child: SpawnerChild }> {
    execaFn ??= await loadExeca();
    const child = launchSpawner(execaFn);
    child.on("message", (m: unknown) => this.reply(m as Reply));
    void child.then(() => this.failAll("the task spawner exited"));
    // neither the process nor its channel keeps kiln alive
    child.unref();
    (child as unknown as { channel?: { unref(): void } }).channel?.unref();
    return { child };
  }

  private reply(m: Reply): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.error !== undefined) {
      this.pending.delete(m.id);
      const err = new Error(m.error);
      p.started[1](err);
      p.exited[1](err);
    } else if (m.pid !== undefined && m.code === undefined) {
      p.pid = m.pid;
      p.started[0](m.pid);
    } else {
      this.pending.delete(m.id);
      p.exited[0]({ code: m.code ?? null, signal: m.signal ?? null });
    }
  }

  private failAll(why: string): void {
    this.child = undefined;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      const err = new Error(why);
      p.started[1](err);
      p.exited[1](err);
    }
  }

  spawn(req: SpawnRequest): SpawnedProcess {
    const id = this.nextId++;
    let pending!: Pending;
    const started = new Promise<number>((resolve, reject) => {
      pending = { started: [resolve, reject], exited: [() => undefined, () => undefined] };
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      pending.exited = [resolve, reject];
    });
    // a failure to start is reported through `exited` too; don't let `started` go unhandled
    started.catch(() => undefined);
    this.pending.set(id, pending);
    this.ensure().then(
      ({ child }) => {
        // ref the channel while work is outstanding, so kiln waits for the answer
        const channel = (child as unknown as { channel?: { ref(): void; unref(): void } }).channel;
        channel?.ref();
        void exited
          .catch(() => undefined)
          .finally(() => {
            if (!this.pending.size) channel?.unref();
          });
        child.send({ id, ...req });
      },
      (err: unknown) => this.reply({ id, error: `cannot start the task spawner: ${(err as Error).message}` }),
    );
    return { started, exited };
  }
}

let shared: Spawner | undefined;

/** Start `file args` in its own process group through the shared spawner. */
export function spawnTask(req: SpawnRequest): SpawnedProcess {
  shared ??= new Spawner();
  return shared.spawn(req);
}
