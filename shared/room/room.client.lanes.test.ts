import t from 'tap';
import fc from 'fast-check';
import { RoomLanes } from './room.client.lanes.js';
import { ErrorCode, RequestTimeoutError, RoomBusyError, RoomcastError } from '../wire/errors.js';

/** A command whose answer the test gives: `started` once sent, then `answer` or `fail`. */
interface Cmd {
  n: number;
  room: string;
  started: boolean;
  settled?: 'ok' | 'error';
  error?: unknown;
  answer: () => void;
  fail: (err: unknown) => void;
}

const transport = (err: unknown) => err instanceof RequestTimeoutError;
const tick = () => new Promise((r) => setImmediate(r));

/** Lanes whose commands the test answers by hand; `order` lists sends as they happen. */
function harness(inFlight: number, queued: number) {
  const lanes = new RoomLanes({ inFlight, queued }, transport);
  const order: number[] = [];
  const cmds: Cmd[] = [];
  const give = (room: string): Cmd => {
    const cmd = { n: cmds.length, room, started: false } as Cmd;
    cmds.push(cmd);
    lanes
      .run(
        room,
        () =>
          new Promise<void>((resolve, reject) => {
            cmd.started = true;
            order.push(cmd.n);
            cmd.answer = resolve;
            cmd.fail = reject;
          }),
      )
      .then(
        () => (cmd.settled = 'ok'),
        (err: unknown) => {
          cmd.settled = 'error';
          cmd.error = err;
        },
      );
    return cmd;
  };
  const inFlight_ = (room: string) =>
    cmds.filter((c) => c.room === room && c.started && c.settled === undefined).length;
  return { lanes, order, cmds, give, inFlight: inFlight_ };
}

t.test('at most inFlight per room are sent; the rest leave in order as answers come', async (t) => {
  const h = harness(3, 100);
  const a = Array.from({ length: 10 }, () => h.give('r1'));
  const other = h.give('r2');
  await tick();
  t.same(h.order, [0, 1, 2, 10], 'three of r1 sent, r2 not held up by r1');
  t.equal(h.lanes.waiting('r1'), 7);
  a[1]!.answer();
  // Given while the freed slot is on its way to the next: it waits behind.
  const late = h.give('r1');
  await tick();
  t.same(h.order, [0, 1, 2, 10, 3], 'the freed slot went to the first waiting');
  for (const c of [...a, late]) {
    await tick();
    if (c.started && c.settled === undefined) c.answer();
  }
  for (let i = 0; i < 20; i++) {
    await tick();
    for (const c of [...a, late]) if (c.started && c.settled === undefined) c.answer();
  }
  t.same(
    h.order.filter((n) => n !== 10),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11],
    'r1 sent in the order given',
  );
  t.ok(
    [...a, late].every((c) => c.settled === 'ok'),
    'every command answered',
  );
  other.answer();
  await tick();
  t.equal(h.lanes.rooms, 0, 'no room kept once idle');
});

t.test('a transport failure fails what waits for that room; a refusal does not', async (t) => {
  const h = harness(1, 100);
  const first = h.give('r1');
  const waiting = [h.give('r1'), h.give('r1'), h.give('r1')];
  const elsewhere = h.give('r2');
  await tick();
  first.fail(new RoomcastError(ErrorCode.ROOM_FULL));
  await tick();
  t.ok(waiting[0]!.started, 'after a refusal the next is sent');
  t.equal(waiting[1]!.settled, undefined, 'the others still wait');
  const timeout = new RequestTimeoutError('room', 2000);
  waiting[0]!.fail(timeout);
  await tick();
  await tick();
  for (const w of waiting.slice(1)) {
    t.equal(w.settled, 'error');
    t.equal(w.error, timeout, 'failed with the timeout that said the room does not answer');
    t.notOk(w.started, 'never sent');
  }
  t.notOk(elsewhere.settled, 'another room is not touched');
  t.equal(h.lanes.waiting('r1'), 0);
  const after = h.give('r1');
  await tick();
  t.ok(after.started, 'a command given afterwards is sent');
  after.answer();
  elsewhere.answer();
  await tick();
  t.equal(h.lanes.rooms, 0);
});

t.test('beyond `queued` waiting, a command is refused at once without being sent', async (t) => {
  const h = harness(1, 2);
  const cmds = [h.give('r1'), h.give('r1'), h.give('r1'), h.give('r1')];
  await tick();
  const refused = cmds[3]!;
  t.equal(refused.settled, 'error');
  t.ok(refused.error instanceof RoomBusyError);
  t.equal((refused.error as RoomBusyError).code, ErrorCode.UNAVAILABLE, 'UNAVAILABLE on the wire');
  t.notOk(refused.started);
  for (let i = 0; i < 3; i++) {
    cmds[i]!.answer();
    await tick();
  }
  t.same(
    cmds.map((c) => c.settled),
    ['ok', 'ok', 'ok', 'error'],
  );
});

t.test('any interleaving: per room, never more than inFlight sent, sent in order given', () => {
  const op = fc.oneof(
    fc.record({ give: fc.constantFrom('a', 'b') }),
    fc.record({ answer: fc.nat(20) }),
    fc.record({ refuse: fc.nat(20) }),
    fc.record({ timeout: fc.nat(20) }),
  );
  return fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 4 }),
      fc.array(op, { maxLength: 80 }),
      async (cap, ops) => {
        const h = harness(cap, 1000);
        const settleOne = (k: number, how: 'answer' | 'refuse' | 'timeout') => {
          const open = h.cmds.filter((c) => c.started && c.settled === undefined);
          const c = open[k % Math.max(open.length, 1)];
          if (c === undefined) return;
          if (how === 'answer') c.answer();
          else if (how === 'refuse') c.fail(new RoomcastError(ErrorCode.ROOM_FULL));
          else c.fail(new RequestTimeoutError('room', 1));
        };
        for (const o of ops) {
          if ('give' in o) h.give(o.give);
          else if ('answer' in o) settleOne(o.answer, 'answer');
          else if ('refuse' in o) settleOne(o.refuse, 'refuse');
          else settleOne(o.timeout, 'timeout');
          await tick();
          for (const room of ['a', 'b']) if (h.inFlight(room) > cap) return false;
          if (h.lanes.waitingTotal !== h.lanes.waiting('a') + h.lanes.waiting('b')) return false;
        }
        // Answer everything still open: every command ends, and the lanes empty.
        for (let i = 0; i < h.cmds.length + 2; i++) {
          for (const c of h.cmds) if (c.started && c.settled === undefined) c.answer();
          await tick();
        }
        if (!h.cmds.every((c) => c.settled !== undefined)) return false;
        if (h.lanes.rooms !== 0) return false;
        for (const room of ['a', 'b']) {
          const sent = h.order.filter((n) => h.cmds[n]!.room === room);
          if (sent.some((n, i) => i > 0 && n < sent[i - 1]!)) return false;
        }
        return true;
      },
    ),
    { numRuns: 200 },
  );
});

t.test('a queue that never empties does not grow with the commands it handed out', async (t) => {
  const h = harness(1, 100_000);
  let open = h.give('r1');
  for (let i = 0; i < 10; i++) h.give('r1');
  await tick();
  // 5,000 answers, each followed by one more command: always 10 waiting.
  for (let i = 0; i < 5000; i++) {
    open.answer();
    h.give('r1');
    await tick();
    open = h.cmds.find((c) => c.started && c.settled === undefined)!;
  }
  t.equal(h.lanes.waiting('r1'), 10, 'ten waiting all along');
  t.ok(
    h.lanes.held('r1') <= 2 * 1024 + 10,
    `the queue holds ${h.lanes.held('r1')} entries after 5,010 commands`,
  );
  t.same(
    h.order,
    Array.from({ length: h.order.length }, (_, i) => i),
    'sent in the order given',
  );
});

t.test('waitingTotal counts the commands waiting over all rooms', async (t) => {
  const h = harness(1, 100);
  const a = [h.give('a'), h.give('a'), h.give('a')];
  const b = [h.give('b'), h.give('b')];
  await tick();
  t.equal(h.lanes.waitingTotal, 3, 'two wait for a, one for b');
  a[0]!.answer();
  await tick();
  t.equal(h.lanes.waitingTotal, 2, 'one handed a slot');
  b[0]!.fail(new RequestTimeoutError('room', 1));
  await tick();
  t.equal(h.lanes.waitingTotal, 1, "b's waiting one failed with it");
  a[1]!.answer();
  await tick();
  a[2]!.answer();
  await tick();
  t.equal(h.lanes.waitingTotal, 0);
});
