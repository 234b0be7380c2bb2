/**
 * Spreading recipe parsing over worker threads (DESIGN §3). The main thread
 * parses a share itself while the workers start, so small batches never pay
 * for thread start-up.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { KilnError } from "../errors.js";
import type { Configuration, LoadConfigOptions } from "../layers/config.js";
import { initShellParser } from "../deps/shell.js";
import { parseJobs, type ParseJob, type ParseOutcome, type SerializedError } from "./jobs.js";

/** Below this many recipes a worker costs more to start than it saves. */
export const WORKER_THRESHOLD = 250;

// from sources (tests run TypeScript directly) the worker still runs the compiled module
const workerUrl = import.meta.url.endsWith(".ts")
  ? new URL("../../dist/parse/worker.js", import.meta.url)
  : new URL("./worker.js", import.meta.url);

export async function parseInParallel(
  config: Configuration,
  configOptions: LoadConfigOptions,
  jobs: ParseJob[],
  threads = availableParallelism(),
): Promise<ParseOutcome[]> {
  await initShellParser();
  const workers = jobs.length < WORKER_THRESHOLD ? 0 : Math.max(0, threads - 1);
  if (workers === 0) return parseJobs(config, jobs);
  // workers spend time loading modules and configuration first, so the main thread takes a bigger share
  const mainShare = Math.ceil(jobs.length * (1.4 / (workers + 1.4)));
  const mine = jobs.slice(0, mainShare);
  const rest = jobs.slice(mainShare);
  const per = Math.ceil(rest.length / workers);
  const pending: Promise<ParseOutcome[]>[] = [];
  for (let i = 0; i < workers; i++) {
    const chunk = rest.slice(i * per, (i + 1) * per);
    if (chunk.length) pending.push(runWorker(configOptions, chunk));
  }
  const own = parseJobs(config, mine);
  const others = await Promise.all(pending);
  return [...own, ...others.flat()];
}

function runWorker(config: LoadConfigOptions, jobs: ParseJob[]): Promise<ParseOutcome[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerUrl, { workerData: { config, jobs } });
    worker.once("message", (msg: { outcomes?: ParseOutcome[]; fatal?: SerializedError }) => {
      void worker.terminate();
      if (msg.fatal) reject(new KilnError("PARSE_ERROR", msg.fatal.message, { hint: msg.fatal.hint }));
      else resolve(msg.outcomes ?? []);
    });
    worker.once("error", reject);
  });
}
