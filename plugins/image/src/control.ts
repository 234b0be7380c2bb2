/**
 * Control stanzas (deb822, as dpkg and opkg write them): `Key: value` lines,
 * continuation lines starting with a space or tab, stanzas separated by blank lines.
 * Field order is kept, because the databases are written back in the package's order.
 */

export type Stanza = [string, string][];

/** The stanzas of `text`; continuation lines keep their leading space (as written). */
export function parseStanzas(text: string): Stanza[] {
  const out: Stanza[] = [];
  let current: Stanza = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) {
      if (current.length) out.push(current);
      current = [];
      continue;
    }
    if (/^[ \t]/.test(line)) {
      const last = current[current.length - 1];
      if (last) last[1] += `\n${line}`;
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    current.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  if (current.length) out.push(current);
  return out;
}

export function field(stanza: Stanza, name: string): string | undefined {
  const lower = name.toLowerCase();
  return stanza.find(([k]) => k.toLowerCase() === lower)?.[1];
}

/** A stanza back as text; multi-line values are kept as parsed (continuations indented). */
export function stanzaText(stanza: Stanza): string {
  return stanza.map(([k, v]) => (v.startsWith("\n") ? `${k}:${v}\n` : `${k}: ${v}\n`)).join("");
}
