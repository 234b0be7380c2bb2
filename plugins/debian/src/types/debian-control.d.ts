// The part of debian-control (no bundled types) that kiln uses: one stanza's text to
// its fields; a multi-line field's value is its lines (the first may be empty).
declare module "debian-control" {
  export function parse(text: string): Record<string, string | string[]>;
}
