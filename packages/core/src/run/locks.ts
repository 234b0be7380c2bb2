/**
 * Named locks for `[lockfiles]` and for trees several builds share (DL_DIR,
 * SSTATE_DIR): an in-process queue per path, plus a lock file created with O_EXCL
 * holding the owner's pid, so two kiln processes exclude each other too. A lock
 * file whose owner is gone (killed build) is taken over.
 */
import { randomBytes } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const queues = new Map<string, Promise<void>>();

/**
 * Whose lock file `path` is: a live process's, a dead one's, or nobody's (it vanished
 * while we looked). Only a dead owner's is ever removed: treating a vanished file as
 * dead removed the takeover lock another process had just made, so two processes took
 * a stale lock over at once and both held it.
 */
function owner(path: string): "alive" | "dead" | "absent" {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(path, "utf8"), 10);
  } catch {
    return "absent";
  }
  if (!Number.isInteger(pid) || pid <= 0) return "dead";
  if (pid === process.pid) return "alive";
  try {
    process.kill(pid, 0);
    return "alive";
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM" ? "alive" : "dead";
  }
}

/**
 * Create the lock file holding our pid in one step: written under a name of our own,
 * then hard-linked to `path` (link fails if `path` exists). Creating it empty and
 * writing the pid after left a window in which another process read an empty lock,
 * took it for a dead owner's, removed it and took the lock too.
 */
function tryCreate(path: string): boolean {
  const mine = `${path}.${process.pid}.${randomBytes(4).toString("hex")}`;
  writeFileSync(mine, String(process.pid));
  try {
    linkSync(mine, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    return false;
  } finally {
    rmSync(mine, { force: true });
  }
}

async function acquireFile(path: string, signal?: AbortSignal): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  for (let wait = 5; ; wait = Math.min(wait * 2, 200)) {
    if (tryCreate(path)) return;
    const state = owner(path);
    if (state === "absent") continue; // released meanwhile: try again at once
    if (state === "dead") {
      // a dead owner's lock is removed by one waiter only, the one holding the
      // takeover lock: two removing it at once could remove a new live lock
      const takeover = `${path}.takeover`;
      if (tryCreate(takeover)) {
        try {
          if (owner(path) === "dead") rmSync(path, { force: true });
        } finally {
          rmSync(takeover, { force: true });
        }
        continue;
      }
      if (owner(takeover) === "dead") rmSync(takeover, { force: true }); // a taker that died itself
    }
    signal?.throwIfAborted();
    await sleep(wait);
  }
}

/** Wait for `p`, or reject as soon as `signal` aborts. */
function abortable(p: Promise<void>, signal?: AbortSignal): Promise<void> {
  if (!signal) return p;
  signal.throwIfAborted();
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Hold every lock in `paths` (taken in sorted order, so two holders never deadlock) while `fn` runs. */
export async function withLocks<T>(paths: string[], fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  const sorted = [...new Set(paths)].sort();
  const releases: (() => void)[] = [];
  try {
    for (const path of sorted) {
      const previous = queues.get(path) ?? Promise.resolve();
      let release!: () => void;
      const mine = new Promise<void>((r) => (release = r));
      const tail = previous.then(() => mine);
      queues.set(path, tail);
      try {
        await abortable(previous, signal);
      } catch (err) {
        release();
        throw err;
      }
      try {
        await acquireFile(path, signal);
      } catch (err) {
        release();
        throw err;
      }
      releases.push(() => {
        rmSync(path, { force: true });
        if (queues.get(path) === tail) queues.delete(path);
        release();
      });
    }
    return await fn();
  } finally {
    for (const r of releases.reverse()) r();
  }
}
