/**
 * The first signal to an addressee is acknowledged (gateway.signal.acks.ts): a holder
 * whose interest reaches the sender's node late (here: it subscribes late) still gets
 * every signal, once and in order; nobody holding the addressee means the signals are
 * dropped after the tries; a gateway that does not hold the addressee never answers.
 */
import t, { type Test } from 'tap';
import type { Msg } from '@nats-io/nats-core';
import { Bus } from '#shared/runtime/bus.js';
import { Credential } from '#shared/runtime/bus.permissions.js';
import { createLogger } from '#shared/runtime/log.js';
import { subjects } from '#shared/wire/subjects.js';
import { SignalAcks } from '../gateway.signal.acks.js';
import { startNats, type NatsServer } from '../../../test/helpers/nats.js';
import { until } from '../../../test/helpers/deadline.js';

const ACK_MS = 50;
const TRIES = 4;
const text = (m: Msg): string => new TextDecoder().decode(m.data);
const frame = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A gateway's side of it: its own bus (the gateway user), its acks, what its members got. */
async function gateway(t: Test, nats: NatsServer, id: string, holdMs = 0) {
  const bus = await Bus.connect({
    ...nats.connectOptions(Credential.gateway),
    name: id,
    requestTimeoutMs: 2000,
    log: createLogger('test', 'error'),
  });
  const acks = new SignalAcks({
    bus,
    gatewayId: id,
    ackMs: ACK_MS,
    tries: TRIES,
    ackedPerRoom: 4096,
    holdMs,
  });
  t.teardown(async () => {
    acks.stop();
    await bus.close();
  });
  const got: string[] = [];
  /** Holds room `r`'s signals; `members` are the peers held here. */
  const hold = (members: string[]) =>
    bus.subscribe(subjects.roomSignalAll('r'), (msg) => {
      const to = msg.subject.split('.').at(-1) ?? '';
      const here = members.includes(to);
      if (acks.received(msg, here) && here) got.push(`${to}:${text(msg)}`);
    });
  return { bus, acks, got, hold };
}

/** Gateways `ga` and `gb` on a NATS of their own; `ga` holds its signals `holdMs`. */
async function gateways(t: Test, holdMs = 0) {
  const nats = await startNats();
  t.teardown(() => nats.stop());
  return { a: await gateway(t, nats, 'ga', holdMs), b: await gateway(t, nats, 'gb') };
}

t.test('a holder that subscribes late gets every signal, once and in order', async (t) => {
  const { a, b } = await gateways(t);
  // Nobody holds v yet: the first signal goes nowhere (NATS answers "no responders",
  // which is no acknowledgement), later ones wait behind it.
  a.acks.send('r', 'v', frame('offer'));
  a.acks.send('r', 'v', frame('c1'));
  a.acks.send('r', 'v', frame('c2'));
  await new Promise((r) => setTimeout(r, ACK_MS * 1.5));
  // v's gateway subscribes now (its interest arriving late); the repeat reaches it.
  b.hold(['v']);
  await b.bus.nc.flush();
  await until(() => b.got.length === 3, 'every signal arrives');
  a.acks.send('r', 'v', frame('c3'));
  await until(() => b.got.length === 4, 'a later one too');
  await new Promise((r) => setTimeout(r, ACK_MS * 3));
  t.same(b.got, ['v:offer', 'v:c1', 'v:c2', 'v:c3'], 'once each, in order');
});

t.test('a repeat of a first signal already delivered is acknowledged, not delivered', async (t) => {
  const { a, b } = await gateways(t);
  const acked: string[] = [];
  a.bus.subscribe(subjects.signalAcks('ga'), (m) => acked.push(m.subject));
  const delivered: string[] = [];
  b.bus.subscribe(subjects.roomSignalAll('r'), (msg) => {
    const here = msg.subject.endsWith('.v');
    if (b.acks.received(msg, here) && here) delivered.push(text(msg));
  });
  await Promise.all([a.bus.nc.flush(), b.bus.nc.flush()]);
  // Sent as SignalAcks sends a first signal, twice (its acknowledgement late), then
  // one without an ack, and one to a peer gateway b does not hold.
  const first = subjects.signalAck('ga', 1);
  a.bus.publishBytes(subjects.roomSignal('r', 'v'), frame('offer'), undefined, first);
  a.bus.publishBytes(subjects.roomSignal('r', 'v'), frame('offer'), undefined, first);
  a.bus.publishBytes(subjects.roomSignal('r', 'v'), frame('c1'));
  a.bus.publishBytes(
    subjects.roomSignal('r', 'w'),
    frame('x'),
    undefined,
    subjects.signalAck('ga', 2),
  );
  await until(() => acked.length > 0 && delivered.length === 2, 'acknowledged and delivered');
  await new Promise((r) => setTimeout(r, ACK_MS));
  t.same(delivered, ['offer', 'c1'], 'the offer is delivered once');
  // Each copy is answered (the same ack subject): the sender takes the first and
  // ignores the rest.
  t.ok(
    acked.every((s) => s === first),
    'acknowledged; nothing for a peer not held here',
  );
});

t.test('signals to a peer nobody holds are dropped after the tries', async (t) => {
  const { a, b: other } = await gateways(t);
  // Another gateway holds the room, but not the addressee: it never answers.
  other.hold(['someone-else']);
  const seen: Msg[] = [];
  other.bus.subscribe(subjects.roomSignal('r', 'gone'), (m) => seen.push(m));
  await other.bus.nc.flush();
  a.acks.send('r', 'gone', frame('offer'));
  a.acks.send('r', 'gone', frame('c1'));
  await until(() => seen.length === TRIES, 'sent the configured number of times');
  await new Promise((r) => setTimeout(r, ACK_MS * 3));
  t.equal(seen.length, TRIES, 'then no more');
  t.ok(
    seen.every((m) => text(m) === 'offer'),
    'only the first was sent; what waited behind it was dropped',
  );
  t.same(other.got, [], 'nothing delivered');
  // A later signal starts afresh.
  a.acks.send('r', 'gone', frame('again'));
  await until(() => seen.length === TRIES + 1, 'a new first signal');
  t.equal(text(seen.at(-1)!), 'again');
});

t.test('an acknowledged addressee gets later signals without one, until it moves', async (t) => {
  const { a, b } = await gateways(t);
  b.hold(['v']);
  const replies: (string | undefined)[] = [];
  b.bus.subscribe(subjects.roomSignal('r', 'v'), (m) => replies.push(m.reply || undefined));
  await b.bus.nc.flush();
  a.acks.send('r', 'v', frame('1'));
  await until(() => b.got.length === 1, 'the first arrives');
  a.acks.send('r', 'v', frame('2'));
  await until(() => b.got.length === 2, 'the second arrives');
  t.ok(
    replies[0] !== undefined && replies[1] === undefined,
    'only the first asked for an acknowledgement',
  );
  a.acks.forgetPeer('r', 'v');
  a.acks.send('r', 'v', frame('3'));
  await until(() => b.got.length === 3, 'the third arrives');
  t.ok(replies[2] !== undefined, 'after a move, the next is acknowledged anew');
});

t.test(
  'held signals (GATEWAY_RELAY_HOLD_MS) keep their order, a new first signal included',
  async (t) => {
    const { a, b } = await gateways(t, 30);
    b.hold(['v']);
    await b.bus.nc.flush();
    a.acks.send('r', 'v', frame('1'));
    await until(() => b.got.length === 1, 'the first arrives');
    // '2' is held; v then moves, so '3' is a first signal again (with an ack subject).
    // It must not overtake '2', which went out as a plain signal before it.
    a.acks.send('r', 'v', frame('2'));
    a.acks.forgetPeer('r', 'v');
    a.acks.send('r', 'v', frame('3'));
    a.acks.send('r', 'v', frame('4'));
    await until(() => b.got.length === 4, 'all four arrive');
    await new Promise((r) => setTimeout(r, ACK_MS * 2));
    t.same(b.got, ['v:1', 'v:2', 'v:3', 'v:4'], 'once each, in the order sent');
  },
);
