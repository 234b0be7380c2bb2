#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in ../dist (built by `pnpm install`).
import { setFlagsFromString } from "node:v8";

// WebAssembly (the tree-sitter shell parser) is run by V8's baseline compiler only: its
// optimising compiler spent ~250 ms on the grammar's huge functions in the background,
// and the main thread stalled on it at its next garbage collection; a cold parse of
// 5,000 recipes was faster without it too (1.7 s, 1.97 s with it). Set before any
// module is compiled, and seen by the parse workers (one V8, one set of flags).
setFlagsFromString("--liftoff-only");

const { main } = await import("../dist/main.js");

// exit now rather than when the event loop drains: an interrupted build abandons
// in-process JS tasks that cannot be killed (stdout/stderr writes are synchronous on Linux)
process.exit(await main(process.argv.slice(2)));
