/** `--json`: each event exactly as fired, one JSON object per line, for scripts. */
import type { Output } from "../output.js";
import type { EventSink } from "./index.js";

export function jsonReporter(io: Output): EventSink {
  return {
    handle: (event) => io.out(JSON.stringify(event) + "\n"),
    close() {},
  };
}
