import type { DataStore } from "./datastore.js";

/**
 * bb.data.expandKeys: variables whose names hold `${...}` are renamed to the
 * expanded name (with their flags and pending operations), in sorted order.
 */
export function expandKeys(alter: DataStore, read: DataStore = alter): void {
  const todo = new Map<string, string>();
  for (const key of alter.keys()) {
    if (!key.includes("${")) continue;
    const ekey = read.expand(key);
    if (ekey !== key) todo.set(key, ekey);
  }
  for (const key of [...todo.keys()].sort()) {
    alter.renameVar(key, todo.get(key) as string);
  }
}
