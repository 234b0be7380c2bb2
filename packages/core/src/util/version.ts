/**
 * BitBake's version comparison (bb.utils.vercmp_string): epoch, then the version
 * and revision compared part by part, where numbers compare numerically, letters
 * alphabetically, `~` sorts before anything (even the end), and other characters
 * after letters and numbers.
 */
type Part = readonly [order: number, value: number | string];

function explodeVersion(s: string): Part[] {
  const parts: Part[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c >= "0" && c <= "9") {
      let j = i;
      while (j < s.length && s[j] >= "0" && s[j] <= "9") j++;
      parts.push([0, Number.parseInt(s.slice(i, j), 10)]);
      i = j;
    } else if (/[A-Za-z]/.test(c)) {
      let j = i;
      while (j < s.length && /[A-Za-z]/.test(s[j])) j++;
      parts.push([1, s.slice(i, j)]);
      i = j;
    } else {
      parts.push([c === "~" ? -1 : 2, c]);
      i++;
    }
  }
  return parts;
}

export function vercmpPart(a: string, b: string): number {
  const va = explodeVersion(a);
  const vb = explodeVersion(b);
  for (let k = 0; ; k++) {
    const [oa, ca] = k < va.length ? va[k] : ([0, null] as const);
    const [ob, cb] = k < vb.length ? vb[k] : ([0, null] as const);
    if (ca === null && cb === null && oa === 0 && ob === 0) return 0;
    if (oa < ob) return -1;
    if (oa > ob) return 1;
    if (ca === null) return -1;
    if (cb === null) return 1;
    if (ca < cb) return -1;
    if (ca > cb) return 1;
  }
}

export interface VersionTuple {
  epoch: number;
  version: string;
  revision: string;
}

/** `[epoch:]version[-revision]`, as bb.utils.split_version. */
export function splitVersion(s: string): VersionTuple {
  s = s.replace(/^[ <>=]+|[ <>=]+$/g, "");
  let epoch = 0;
  const colon = s.indexOf(":");
  if (colon >= 0) {
    epoch = Number.parseInt(s.slice(0, colon), 10) || 0;
    s = s.slice(colon + 1).split(":")[0];
  }
  let revision = "";
  const dash = s.lastIndexOf("-");
  if (dash >= 0) {
    revision = s.slice(dash + 1);
    s = s.slice(0, dash);
  }
  return { epoch, version: s, revision };
}

export function vercmpTuple(a: VersionTuple, b: VersionTuple): number {
  let r = Math.sign(a.epoch - b.epoch);
  if (r === 0) r = vercmpPart(a.version, b.version);
  if (r === 0) r = vercmpPart(a.revision, b.revision);
  return r;
}

/** Compare two version strings: negative, zero or positive. */
export function vercmp(a: string, b: string): number {
  return vercmpTuple(splitVersion(a), splitVersion(b));
}

/**
 * bb.utils.vercmp_string_op: does `a` OP `b` hold (`=`/`==`, `<=`, `>=`, `<`/`<<`,
 * `>`/`>>`, `!=`)? Any other operator is undefined.
 */
export function vercmpOp(a: string, b: string, op: string): boolean | undefined {
  const r = vercmp(a, b);
  switch (op) {
    case "=":
    case "==":
      return r === 0;
    case "<=":
      return r <= 0;
    case ">=":
      return r >= 0;
    case ">":
    case ">>":
      return r > 0;
    case "<":
    case "<<":
      return r < 0;
    case "!=":
      return r !== 0;
    default:
      return undefined;
  }
}
