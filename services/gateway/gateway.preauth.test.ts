import t from 'tap';
import { PreAuthLimit } from './gateway.preauth.js';

t.test('slots per address, given back once each', async (t) => {
  const limit = new PreAuthLimit(2);
  const a1 = limit.take('a');
  const a2 = limit.take('a');
  t.ok(a1 && a2, 'two for a');
  t.equal(limit.take('a'), undefined, 'not a third');
  t.ok(limit.take('b'), 'b is counted apart');
  a1?.();
  a1?.();
  t.equal(limit.heldBy('a'), 1, 'giving back twice counts once');
  t.ok(limit.take('a'), 'a may take one again');
  t.equal(limit.take('a'), undefined);
});

t.test('0 is no limit', async (t) => {
  const limit = new PreAuthLimit(0);
  for (let i = 0; i < 100; i++) t.ok(limit.take('a'));
  t.equal(limit.heldBy('a'), 0, 'nothing is counted');
});
