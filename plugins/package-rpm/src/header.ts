/**
 * The header structure rpm uses twice in a package (signature header and main
 * header): magic, an index of (tag, type, offset, count) entries and a data store.
 * rpm ≥ 4.14 checks it strictly when reading (hdrblobVerifyInfo/VerifyRegion), so:
 * entries are written sorted by tag with their data in the same order, each value
 * aligned to its type's size; the whole header is one "region" whose tag is the first
 * index entry and whose 16-byte trailer (an index entry with a negative offset:
 * minus the size of the index) is the last thing in the data store.
 */

/** rpm's tag data types (rpmTagType). */
const TYPE = { INT16: 3, INT32: 4, INT64: 5, STRING: 6, BIN: 7, STRING_ARRAY: 8, I18NSTRING: 9 } as const;
const ALIGNMENT: Record<number, number> = { [TYPE.INT16]: 2, [TYPE.INT32]: 4, [TYPE.INT64]: 8 };
const MAGIC = Buffer.from([0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0]);
const ENTRY_SIZE = 16;

/** A tag's value, already encoded (big-endian) as it goes into the data store. */
export interface TagData {
  type: number;
  count: number;
  data: Buffer;
}

export type Tags = Map<number, TagData>;

const cstring = (s: string) => Buffer.from(`${s}\0`);

function integers(type: number, size: number, values: number[], put: (b: Buffer, v: number, at: number) => void): TagData {
  const data = Buffer.alloc(values.length * size);
  values.forEach((v, i) => put(data, v, i * size));
  return { type, count: values.length, data };
}

export const int16 = (values: number[]): TagData => integers(TYPE.INT16, 2, values, (b, v, at) => b.writeUInt16BE(v & 0xffff, at));
// `>>> 0` so that flags such as RPMVERIFY_ALL (-1) are written as their 32-bit pattern.
export const int32 = (values: number[]): TagData => integers(TYPE.INT32, 4, values, (b, v, at) => b.writeUInt32BE(v >>> 0, at));
export const int64 = (values: number[]): TagData => integers(TYPE.INT64, 8, values, (b, v, at) => b.writeBigUInt64BE(BigInt(v), at));
export const string = (value: string): TagData => ({ type: TYPE.STRING, count: 1, data: cstring(value) });
/** A translatable string with only the "C" locale (the header's I18NTABLE must then be ["C"]). */
export const i18nString = (value: string): TagData => ({ type: TYPE.I18NSTRING, count: 1, data: cstring(value) });
export const stringArray = (values: string[]): TagData => ({ type: TYPE.STRING_ARRAY, count: values.length, data: Buffer.concat(values.map(cstring)) });
export const bin = (data: Buffer): TagData => ({ type: TYPE.BIN, count: data.length, data });

function indexEntry(tag: number, type: number, offset: number, count: number): Buffer {
  const b = Buffer.alloc(ENTRY_SIZE);
  b.writeUInt32BE(tag, 0);
  b.writeUInt32BE(type, 4);
  b.writeInt32BE(offset, 8);
  b.writeUInt32BE(count, 12);
  return b;
}

/** The header bytes of `tags` as the region `regionTag` (HEADERSIGNATURES or HEADERIMMUTABLE). */
export function encodeHeader(tags: Tags, regionTag: number): Buffer {
  const sorted = [...tags].sort(([a], [b]) => a - b);
  const entryCount = sorted.length + 1;
  const index: Buffer[] = [];
  const store: Buffer[] = [];
  let offset = 0;
  for (const [tag, { type, count, data }] of sorted) {
    // rpm refuses empty values (its data length check needs at least one element)
    if (count === 0) throw new Error(`rpm header: tag ${tag} has no values`);
    const align = ALIGNMENT[type] ?? 1;
    const pad = (align - (offset % align)) % align;
    store.push(Buffer.alloc(pad), data);
    offset += pad;
    index.push(indexEntry(tag, type, offset, count));
    offset += data.length;
  }
  const trailer = indexEntry(regionTag, TYPE.BIN, -entryCount * ENTRY_SIZE, ENTRY_SIZE);
  const region = indexEntry(regionTag, TYPE.BIN, offset, ENTRY_SIZE);
  const sizes = Buffer.alloc(8);
  sizes.writeUInt32BE(entryCount, 0);
  sizes.writeUInt32BE(offset + ENTRY_SIZE, 4);
  return Buffer.concat([MAGIC, sizes, region, ...index, ...store, trailer]);
}
