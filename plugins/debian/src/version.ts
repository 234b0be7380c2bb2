/**
 * Debian versions exactly as dpkg reads and orders them (deb-version(7), Debian Policy
 * 5.6.12): `[epoch:]upstream[-revision]`. The resolver compares versions hundreds of
 * thousands of times per suite, so compareDebVersions works on index ranges of the
 * original strings: no splitting, no regular expressions, no allocation.
 */
import { KilnError } from "@kiln/core";

export interface DebVersion {
  epoch: number;
  upstream: string;
  /** "" when the version has no `-revision` (dpkg orders "" like "0"). */
  revision: string;
}

/** dpkg keeps the epoch in an int. */
const MAX_EPOCH = 2147483647;

const CH_0 = 48;
const CH_9 = 57;
const CH_COLON = 58;
const CH_HYPHEN = 45;
const CH_TILDE = 126;
const CH_SPACE = 32;
const CH_TAB = 9;

const isDigit = (c: number): boolean => c >= CH_0 && c <= CH_9;
const isAlpha = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isBlank = (c: number): boolean => c === CH_SPACE || c === CH_TAB;

function badVersion(v: string, reason: string): KilnError {
  return new KilnError("PARSE_ERROR", `Invalid Debian version '${v}': ${reason}`, {
    hint: "a Debian version is [epoch:]upstream[-revision], e.g. 1:2.30-1+b1 (see deb-version(7))",
    details: { version: v, reason },
  });
}

/**
 * Where the parts of a version lie in its string, or the reason it is invalid. Mirrors
 * dpkg's parseversion(): blanks around the version are trimmed, the epoch ends at the
 * first `:`, the revision starts after the last `-`. Character checks are left to
 * parseDebVersion (dpkg only warns about them, and comparing does not need them).
 */
interface Layout {
  epoch: number;
  /** [upStart, upEnd) is the upstream version. */
  upStart: number;
  upEnd: number;
  /** [revStart, revEnd) is the revision; empty when there is none. */
  revStart: number;
  revEnd: number;
}

function layout(v: string, out: Layout): string | undefined {
  let start = 0;
  let end = v.length;
  while (start < end && isBlank(v.charCodeAt(start))) start++;
  while (end > start && isBlank(v.charCodeAt(end - 1))) end--;
  if (start === end) return "version string is empty";

  let colon = -1;
  let hyphen = -1;
  for (let i = start; i < end; i++) {
    const c = v.charCodeAt(i);
    if (isBlank(c)) return "version string has embedded spaces";
    if (c === CH_COLON) {
      if (colon < 0) colon = i;
    } else if (c === CH_HYPHEN) hyphen = i;
  }

  let epoch = 0;
  let upStart = start;
  if (colon >= 0) {
    if (colon === start) return "epoch in version is empty";
    for (let i = start; i < colon; i++) {
      const c = v.charCodeAt(i);
      if (!isDigit(c)) return "epoch in version is not number";
      epoch = epoch * 10 + (c - CH_0);
      if (epoch > MAX_EPOCH) return "epoch in version is too big";
    }
    if (colon + 1 === end) return "nothing after colon in version number";
    upStart = colon + 1;
  }

  let upEnd = end;
  let revStart = end;
  if (hyphen >= upStart) {
    if (hyphen + 1 === end) return "revision number is empty";
    upEnd = hyphen;
    revStart = hyphen + 1;
  }
  if (upEnd === upStart) return "upstream version is empty";

  out.epoch = epoch;
  out.upStart = upStart;
  out.upEnd = upEnd;
  out.revStart = revStart;
  out.revEnd = end;
  return undefined;
}

/**
 * Parse and validate a version. Errors as dpkg's (empty, bad epoch, empty upstream or
 * revision, embedded spaces) plus characters Policy forbids (dpkg only warns about
 * those, but a version kiln writes or locks must be one every tool accepts). An
 * upstream part not starting with a digit is accepted: dpkg only warns, and real
 * archives have such versions.
 */
export function parseDebVersion(v: string): DebVersion {
  const l: Layout = { epoch: 0, upStart: 0, upEnd: 0, revStart: 0, revEnd: 0 };
  const why = layout(v, l);
  if (why) throw badVersion(v, why);
  // The upstream part may hold ':' only when an epoch took the first one, and '-' only
  // when a revision took the last one; layout() already guarantees both.
  for (let i = l.upStart; i < l.upEnd; i++) {
    const c = v.charCodeAt(i);
    if (!isDigit(c) && !isAlpha(c) && ".+~-:".indexOf(v[i]) < 0) {
      throw badVersion(v, `invalid character '${v[i]}' in version number`);
    }
  }
  for (let i = l.revStart; i < l.revEnd; i++) {
    const c = v.charCodeAt(i);
    if (!isDigit(c) && !isAlpha(c) && ".+~".indexOf(v[i]) < 0) {
      throw badVersion(v, `invalid character '${v[i]}' in revision number`);
    }
  }
  return { epoch: l.epoch, upstream: v.slice(l.upStart, l.upEnd), revision: v.slice(l.revStart, l.revEnd) };
}

/** dpkg's order() for a non-digit character; `c < 0` means the end of the part. */
function order(c: number): number {
  if (c < 0 || isDigit(c)) return 0;
  if (isAlpha(c)) return c;
  if (c === CH_TILDE) return -1;
  return c + 256;
}

/**
 * dpkg's verrevcmp() on s[aPos, aEnd) and t[bPos, bEnd): alternately compare a run of
 * non-digits character by character (`~` lowest, even below the end; letters before
 * other characters) and a run of digits numerically (leading zeros ignored, so an
 * empty run is 0).
 */
function verrevcmp(s: string, aPos: number, aEnd: number, t: string, bPos: number, bEnd: number): number {
  let a = aPos;
  let b = bPos;
  while (a < aEnd || b < bEnd) {
    let ac = a < aEnd ? s.charCodeAt(a) : -1;
    let bc = b < bEnd ? t.charCodeAt(b) : -1;
    while ((ac >= 0 && !isDigit(ac)) || (bc >= 0 && !isDigit(bc))) {
      const ao = order(ac);
      const bo = order(bc);
      if (ao !== bo) return ao - bo;
      // Equal orders here mean both are the same non-digit character.
      a++;
      b++;
      ac = a < aEnd ? s.charCodeAt(a) : -1;
      bc = b < bEnd ? t.charCodeAt(b) : -1;
    }
    while (ac === CH_0) ac = ++a < aEnd ? s.charCodeAt(a) : -1;
    while (bc === CH_0) bc = ++b < bEnd ? t.charCodeAt(b) : -1;
    let firstDiff = 0;
    while (isDigit(ac) && isDigit(bc)) {
      if (firstDiff === 0) firstDiff = ac - bc;
      ac = ++a < aEnd ? s.charCodeAt(a) : -1;
      bc = ++b < bEnd ? t.charCodeAt(b) : -1;
    }
    if (isDigit(ac)) return 1;
    if (isDigit(bc)) return -1;
    if (firstDiff !== 0) return firstDiff;
  }
  return 0;
}

// Reused across calls: compareDebVersions is hot and never re-entrant.
const LA: Layout = { epoch: 0, upStart: 0, upEnd: 0, revStart: 0, revEnd: 0 };
const LB: Layout = { epoch: 0, upStart: 0, upEnd: 0, revStart: 0, revEnd: 0 };

/**
 * `dpkg --compare-versions a lt/eq/gt b`: negative, zero or positive. Like dpkg it
 * rejects versions it cannot parse (empty, bad epoch, ...) and tolerates odd
 * characters (dpkg warns); parseDebVersion is the strict check.
 */
export function compareDebVersions(a: string, b: string): number {
  if (a === b) {
    const why = layout(a, LA);
    if (why) throw badVersion(a, why);
    return 0;
  }
  const whyA = layout(a, LA);
  if (whyA) throw badVersion(a, whyA);
  const whyB = layout(b, LB);
  if (whyB) throw badVersion(b, whyB);
  if (LA.epoch !== LB.epoch) return LA.epoch < LB.epoch ? -1 : 1;
  const rc = verrevcmp(a, LA.upStart, LA.upEnd, b, LB.upStart, LB.upEnd);
  if (rc !== 0) return rc;
  return verrevcmp(a, LA.revStart, LA.revEnd, b, LB.revStart, LB.revEnd);
}

/** Whether a string is a version parseDebVersion accepts. */
export function isValidDebVersion(v: string): boolean {
  try {
    parseDebVersion(v);
    return true;
  } catch (e) {
    if (e instanceof KilnError) return false;
    throw e;
  }
}

/** A version back to its string form (the epoch only when not 0). */
export function formatDebVersion(v: DebVersion): string {
  const epoch = v.epoch ? `${v.epoch}:` : "";
  const revision = v.revision ? `-${v.revision}` : "";
  return `${epoch}${v.upstream}${revision}`;
}
