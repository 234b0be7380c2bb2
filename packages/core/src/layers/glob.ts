/**
 * BBFILES patterns: shell-style globs (`*`, `?`, `[...]`, and `**` for any depth),
 * expanded against the file system in sorted order, as Python's glob does per entry.
 */
import { readdirSync, statSync } from "node:fs";
import { join, sep } from "node:path";

function segmentRegex(seg: string): RegExp {
  let re = "";
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i];
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = seg.indexOf("]", i + 1);
      if (end < 0) re += "\\[";
      else {
        let body = seg.slice(i + 1, end);
        if (body.startsWith("!")) body = `^${body.slice(1)}`;
        re += `[${body.replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

const hasMagic = (s: string) => /[*?[]/.test(s);

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

export function globSync(pattern: string): string[] {
  const absolute = pattern.startsWith("/");
  const segs = pattern.split("/").filter((s, i) => s !== "" || i === 0);
  let current = [absolute ? "/" : "."];
  for (const seg of segs.slice(absolute ? 1 : 0)) {
    const next: string[] = [];
    if (seg === "**") {
      for (const base of current) {
        const stack = [base];
        while (stack.length) {
          const dir = stack.shift() as string;
          next.push(dir);
          for (const e of listDir(dir)) {
            const p = join(dir, e);
            if (isDir(p)) stack.push(p);
          }
        }
      }
    } else if (hasMagic(seg)) {
      const re = segmentRegex(seg);
      for (const base of current) {
        for (const e of listDir(base)) {
          if (e.startsWith(".") && !seg.startsWith(".")) continue;
          if (re.test(e)) next.push(join(base, e));
        }
      }
    } else {
      for (const base of current) {
        const p = join(base, seg);
        if (exists(p)) next.push(p);
      }
    }
    current = next;
  }
  return current.filter((p) => p !== "." && p !== sep);
}
