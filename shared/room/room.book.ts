/**
 * A persistent (immutable) map from string keys to values, for a room's members and
 * its SRS players, whose update costs about the same in a room of 20 or of 20,000.
 *
 * Why not a plain record: the room reducer is pure, so a join that copies a record
 * of every member (`{ ...members, [id]: m }`) does work that grows with the room:
 * the square of the audience over a join storm. A book spreads its entries over a
 * fixed number of buckets by a hash of the key, in two levels of 64 slots; an update
 * copies the slots in use on its way (at most 2 × 64) and one bucket (about size / 4,096
 * entries), never the whole map, and a small room's book stays small.
 *
 * It is plain JSON (records of slots by index, then records of entries), so a persisted
 * room snapshot holds it as it is, and it restores as it was written. Entries come
 * out in bucket order, then insertion order: the same for a room and its replay.
 */
/** Fan-out of each level: 64 × 64 = 4,096 buckets, a handful of entries each at 20,000. */
const FAN = 64;

type Bucket<V> = Readonly<Record<string, V>>;
/** Slots by index, only the ones in use: a small room copies a slot or two, not 64. */
type Slots<T> = Readonly<Record<number, T>>;

/** A persistent map; read and change it only through the functions below. */
export interface Book<V> {
  readonly size: number;
  /** Two levels of up to 64 slots (only those in use), then a small record. */
  readonly buckets: Slots<Slots<Bucket<V>>>;
}

/** The empty book. */
export function emptyBook<V>(): Book<V> {
  return { size: 0, buckets: {} };
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

/** A copy of `slots` with slot `at` set to `value`, or removed when undefined. */
function withSlot<T>(
  slots: Slots<T> | undefined,
  at: number,
  value: T | undefined,
): Record<number, T> {
  if (value !== undefined) {
    // A spread copies integer keys as V8 elements in one go: about 25 times faster than
    // the loop below for 64 slots, and every join and most leaves take this way.
    const next: Record<number, T> = { ...slots };
    next[at] = value;
    return next;
  }
  // Removing: a copy without the slot (`delete` would leave a dictionary-mode object
  // that every later spread copies slowly).
  const next: Record<number, T> = {};
  if (slots !== undefined)
    for (const k of Object.keys(slots)) {
      const n = Number(k);
      if (n !== at) next[n] = slots[n] as T;
    }
  return next;
}

const isEmpty = (o: object) => Object.keys(o).length === 0;

/**
 * A bucket without a prototype: keys are user and peer ids, and `__proto__` is a
 * valid one (it would set a plain object's prototype instead of an entry).
 */
const entries = <V>(): Record<string, V> => Object.create(null) as Record<string, V>;

/** `book` with bucket (i, j) replaced: copies the slots in use on the way, nothing else. */
function withBucket<V>(
  book: Book<V>,
  i: number,
  j: number,
  bucket: Bucket<V> | undefined,
  size: number,
): Book<V> {
  const level = withSlot(book.buckets[i], j, bucket);
  // Only a removed bucket can leave its level empty.
  const gone = bucket === undefined && isEmpty(level);
  return { size, buckets: withSlot(book.buckets, i, gone ? undefined : level) };
}

/** The value at `key`, or undefined. */
export function bookGet<V>(book: Book<V>, key: string): V | undefined {
  const [i, j] = slotsOf(key);
  const bucket = book.buckets[i]?.[j];
  return bucket === undefined || !Object.hasOwn(bucket, key) ? undefined : bucket[key];
}

/** A book with `key` set to `value`. */
export function bookSet<V>(book: Book<V>, key: string, value: V): Book<V> {
  const [i, j] = slotsOf(key);
  const bucket = book.buckets[i]?.[j];
  const had = bucket !== undefined && Object.hasOwn(bucket, key);
  const next = entries<V>();
  if (bucket !== undefined) for (const k of Object.keys(bucket)) next[k] = bucket[k] as V;
  next[key] = value;
  return withBucket(book, i, j, next, book.size + (had ? 0 : 1));
}

/** A book without `key` (the same book when it has none). */
export function bookDelete<V>(book: Book<V>, key: string): Book<V> {
  const [i, j] = slotsOf(key);
  const bucket = book.buckets[i]?.[j];
  if (bucket === undefined || !Object.hasOwn(bucket, key)) return book;
  const next = entries<V>();
  let left = 0;
  for (const k of Object.keys(bucket)) {
    if (k === key) continue;
    next[k] = bucket[k] as V;
    left++;
  }
  return withBucket(book, i, j, left === 0 ? undefined : next, book.size - 1);
}

/** Every value, bucket by bucket. Costs the size of the book: not for per-join paths. */
export function* bookValues<V>(book: Book<V>): Generator<V> {
  for (const level of Object.values(book.buckets)) {
    for (const bucket of Object.values(level)) {
      for (const key of Object.keys(bucket)) yield bucket[key] as V;
    }
  }
}
