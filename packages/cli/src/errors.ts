/** Turning any failure into one clear message and an exit code (DESIGN §11). */
import { KilnError } from "@kiln/core";
import type { Output } from "./output.js";

/** 0 ok, 1 not found / build failure, 2 usage or metadata error. */
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2 } as const;

export function exitCodeFor(err: unknown): number {
  if (err instanceof KilnError) return err.code === "NOT_FOUND" ? EXIT.FAILED : EXIT.USAGE;
  return EXIT.USAGE;
}

export function reportError(err: unknown, io: Output, debug: boolean): number {
  if (err instanceof KilnError) {
    io.err(`ERROR: ${err.message}\n`);
    if (err.hint) io.err(`  hint: ${err.hint}\n`);
  } else {
    io.err(`ERROR: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  if (debug && err instanceof Error && err.stack) io.err(`${err.stack}\n`);
  else if (!(err instanceof KilnError)) io.err("  (run with -D for the stack trace)\n");
  return exitCodeFor(err);
}
