import t from 'tap';
import fc from 'fast-check';
import { bookDelete, bookGet, bookSet, bookValues, emptyBook, type Book } from './room.book.js';

t.test('a book behaves as a map, and old versions stay as they were', (t) => {
  const key = fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/);
  const op = fc.oneof(fc.record({ set: key, value: fc.integer() }), fc.record({ del: key }));
  fc.assert(
    fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
      let book: Book<number> = emptyBook();
      const model = new Map<string, number>();
      const versions: [Book<number>, Map<string, number>][] = [];
      for (const o of ops) {
        versions.push([book, new Map(model)]);
        if ('set' in o) {
          book = bookSet(book, o.set, o.value);
          model.set(o.set, o.value);
        } else {
          book = bookDelete(book, o.del);
          model.delete(o.del);
        }
      }
      versions.push([book, model]);
      for (const [b, m] of versions) {
        if (b.size !== m.size) return false;
        for (const [k, v] of m) if (bookGet(b, k) !== v) return false;
        if ([...bookValues(b)].sort().join() !== [...m.values()].sort().join()) return false;
      }
      // Plain JSON: a persisted book reads back the same.
      const back = JSON.parse(JSON.stringify(book)) as Book<number>;
      return [...model].every(([k, v]) => bookGet(back, k) === v);
    }),
  );
  t.end();
});
