/**
 * A persistent (immutable) map from string keys to values, for a room's members and
 * its SRS players, whose update costs about the same in a room of 20 or of 20,000.
 *
 * Why not a plain record: the room reducer is pure, so a join that copies a record
 * of every member (`{ ...members, [id]: m }`) does work that grows with the room:
 * the square of the audience over a join storm. A book spreads its entries over a
 * fixed number of buckets by a hash of the key; an update copies the bucket array
 * (256 slots) and one bucket (about size / 256 entries), never the whole map.
 *
 * It is plain JSON (an array of records, `0` for an empty bucket), so a persisted
 * room snapshot holds it as it is, and it restores as it was written. Entries come
 * out in bucket order, then insertion order: the same for a room and its replay.
 */
const BUCKETS = 256;

type Bucket<V> = Readonly<Record<string, V>>;

/** A persistent map; read and change it only through the functions below. */
export interface Book<V> {
  readonly size: number;
  readonly buckets: readonly (Bucket<V> | 0)[];
}

/** The empty book. */
export function emptyBook<V>(): Book<V> {
  return { size: 0, buckets: new Array<0>(BUCKETS).fill(0) };
}

/** FNV-1a over the key's UTF-16 code units, folded to a bucket index. */
function bucketOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % BUCKETS;
}

/** The value at `key`, or undefined. */
export function bookGet<V>(book: Book<V>, key: string): V | undefined {
  const bucket = book.buckets[bucketOf(key)];
  return bucket === undefined || bucket === 0 || !Object.hasOwn(bucket, key)
    ? undefined
    : bucket[key];
}

/** A book with `key` set to `value`. */
export function bookSet<V>(book: Book<V>, key: string, value: V): Book<V> {
  const i = bucketOf(key);
  const bucket = book.buckets[i] ?? 0;
  const had = bucket !== 0 && Object.hasOwn(bucket, key);
  const buckets = book.buckets.slice();
  buckets[i] = { ...(bucket === 0 ? {} : bucket), [key]: value };
  return { size: book.size + (had ? 0 : 1), buckets };
}

/** A book without `key` (the same book when it has none). */
export function bookDelete<V>(book: Book<V>, key: string): Book<V> {
  const i = bucketOf(key);
  const bucket = book.buckets[i] ?? 0;
  if (bucket === 0 || !Object.hasOwn(bucket, key)) return book;
  const { [key]: _gone, ...rest } = bucket;
  const buckets = book.buckets.slice();
  buckets[i] = Object.keys(rest).length === 0 ? 0 : rest;
  return { size: book.size - 1, buckets };
}

/** Every value, bucket by bucket. Costs the size of the book: not for per-join paths. */
export function* bookValues<V>(book: Book<V>): Generator<V> {
  for (const bucket of book.buckets) {
    if (bucket === 0) continue;
    for (const key of Object.keys(bucket)) yield bucket[key] as V;
  }
}
