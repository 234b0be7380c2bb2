/**
 * `kiln.utils`: the helpers metadata JavaScript reaches for, with the meaning of
 * their bb.utils counterparts.
 */
import { vercmp } from "../util/version.js";

export interface VarReader {
  getVar(name: string): unknown;
}

function words(value: string | Iterable<string>): Set<string> {
  return new Set(typeof value === "string" ? value.split(/\s+/).filter(Boolean) : value);
}

function varWords(d: VarReader, variable: string): Set<string> | null {
  const val = d.getVar(variable);
  if (!val) return null;
  return words(String(val));
}

/** truevalue when every one of checkvalues is in the variable's words. */
export function contains<T, F>(variable: string, checkvalues: string | Iterable<string>, truevalue: T, falsevalue: F, d: VarReader): T | F {
  const val = varWords(d, variable);
  if (!val) return falsevalue;
  for (const w of words(checkvalues)) if (!val.has(w)) return falsevalue;
  return truevalue;
}

/** truevalue when any of checkvalues is in the variable's words. */
export function containsAny<T, F>(variable: string, checkvalues: string | Iterable<string>, truevalue: T, falsevalue: F, d: VarReader): T | F {
  const val = varWords(d, variable);
  if (!val) return falsevalue;
  for (const w of words(checkvalues)) if (val.has(w)) return truevalue;
  return falsevalue;
}

/** The checkvalues present in the variable, sorted, space-separated. */
export function filter(variable: string, checkvalues: string | Iterable<string>, d: VarReader): string {
  const val = varWords(d, variable);
  if (!val) return "";
  return [...words(checkvalues)].filter((w) => val.has(w)).sort().join(" ");
}

/** "1/yes/y/true" → true, "0/no/n/false" → false, empty → default; otherwise an error. */
export function toBoolean(value: unknown, fallback?: boolean): boolean | undefined {
  if (value === undefined || value === null || value === "" || value === 0 || value === false) {
    if (value === 0 || value === false) return false;
    return fallback;
  }
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value !== 0;
  const normalized = String(value).toLowerCase();
  if (["y", "yes", "1", "true"].includes(normalized)) return true;
  if (["n", "no", "0", "false"].includes(normalized)) return false;
  throw new Error(`Invalid value for toBoolean: ${String(value)}`);
}

export const utils = Object.freeze({ contains, containsAny, filter, toBoolean, vercmp });
export type KilnUtils = typeof utils;
