#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in ../dist (built by `pnpm install`).
import { main } from "../dist/main.js";

// exit now rather than when the event loop drains: an interrupted build abandons
// in-process JS tasks that cannot be killed (stdout/stderr writes are synchronous on Linux)
process.exit(await main(process.argv.slice(2)));
