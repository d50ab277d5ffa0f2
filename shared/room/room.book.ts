/**
 * A persistent (immutable) map from string keys to values, for a room's members and
 * its SRS players, whose update costs about the same in a room of 20 or of 20,000.
 *
 * Why not a plain record: the room reducer is pure, so a join that copies a record
 * of every member (`{ ...members, [id]: m }`) does work that grows with the room:
 * the square of the audience over a join storm. A book spreads its entries over a
 * fixed number of buckets by a hash of the key, in two levels of 64; an update copies
 * two arrays of 64 slots and one bucket (about size / 4,096 entries), never the whole map.
 *
 * It is plain JSON (arrays of 64 slots, `0` where empty, then records), so a persisted
 * room snapshot holds it as it is, and it restores as it was written. Entries come
 * out in bucket order, then insertion order: the same for a room and its replay.
 */
/** Fan-out of each level: 64 × 64 = 4,096 buckets, a handful of entries each at 20,000. */
const FAN = 64;

type Bucket<V> = Readonly<Record<string, V>>;
type Level<V> = readonly (Bucket<V> | 0)[];

/** A persistent map; read and change it only through the functions below. */
export interface Book<V> {
  readonly size: number;
  /** Two levels of 64 slots (`0` where empty), then a small record. */
  readonly buckets: readonly (Level<V> | 0)[];
}

const empty = <T>(): (T | 0)[] => new Array<T | 0>(FAN).fill(0);

/** The empty book. */
export function emptyBook<V>(): Book<V> {
  return { size: 0, buckets: empty<Level<V>>() };
}

/** FNV-1a over the key's UTF-16 code units: the two slot indexes. */
function slotsOf(key: string): [number, number] {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h >>>= 0;
  return [h % FAN, Math.floor(h / FAN) % FAN];
}

function bucketAt<V>(book: Book<V>, i: number, j: number): Bucket<V> | 0 {
  const level = book.buckets[i] ?? 0;
  return level === 0 ? 0 : (level[j] ?? 0);
}

/** `book` with bucket (i, j) replaced: copies two arrays of 64 slots, nothing else. */
function withBucket<V>(
  book: Book<V>,
  i: number,
  j: number,
  bucket: Bucket<V> | 0,
  size: number,
): Book<V> {
  const level = book.buckets[i] ?? 0;
  const nextLevel = level === 0 ? empty<Bucket<V>>() : level.slice();
  nextLevel[j] = bucket;
  const buckets = book.buckets.slice();
  // A level is dropped when its last bucket empties (only a delete can do that).
  buckets[i] = bucket === 0 && nextLevel.every((b) => b === 0) ? 0 : nextLevel;
  return { size, buckets };
}

/** The value at `key`, or undefined. */
export function bookGet<V>(book: Book<V>, key: string): V | undefined {
  const [i, j] = slotsOf(key);
  const bucket = bucketAt(book, i, j);
  return bucket === 0 || !Object.hasOwn(bucket, key) ? undefined : bucket[key];
}

/** A book with `key` set to `value`. */
export function bookSet<V>(book: Book<V>, key: string, value: V): Book<V> {
  const [i, j] = slotsOf(key);
  const bucket = bucketAt(book, i, j);
  const had = bucket !== 0 && Object.hasOwn(bucket, key);
  const next: Record<string, V> = {};
  if (bucket !== 0) for (const k of Object.keys(bucket)) next[k] = bucket[k] as V;
  next[key] = value;
  return withBucket(book, i, j, next, book.size + (had ? 0 : 1));
}

/** A book without `key` (the same book when it has none). */
export function bookDelete<V>(book: Book<V>, key: string): Book<V> {
  const [i, j] = slotsOf(key);
  const bucket = bucketAt(book, i, j);
  if (bucket === 0 || !Object.hasOwn(bucket, key)) return book;
  const next: Record<string, V> = {};
  let left = 0;
  for (const k of Object.keys(bucket)) {
    if (k === key) continue;
    next[k] = bucket[k] as V;
    left++;
  }
  return withBucket(book, i, j, left === 0 ? 0 : next, book.size - 1);
}

/** Every value, bucket by bucket. Costs the size of the book: not for per-join paths. */
export function* bookValues<V>(book: Book<V>): Generator<V> {
  for (const level of book.buckets) {
    if (level === 0) continue;
    for (const bucket of level) {
      if (bucket === 0) continue;
      for (const key of Object.keys(bucket)) yield bucket[key] as V;
    }
  }
}
