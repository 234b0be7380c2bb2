/** Worker thread: load the same configuration, parse the recipes it is given. */
import { parentPort, workerData } from "node:worker_threads";
import { loadConfiguration, type LoadConfigOptions } from "../layers/config.js";
import { parseJobs, serializeError, type ParseJob } from "./jobs.js";
import { withStableTree } from "./files.js";
import { initShellParser } from "../deps/shell.js";

interface WorkerInput {
  config: LoadConfigOptions;
  jobs: ParseJob[];
}

const input = workerData as WorkerInput;
try {
  // signatures parse shell bodies; the parser (WebAssembly) loads asynchronously
  await initShellParser();
  const config = withStableTree(() => loadConfiguration(input.config));
  parentPort?.postMessage({ outcomes: parseJobs(config, input.jobs) });
} catch (err) {
  parentPort?.postMessage({ fatal: serializeError(err) });
}
