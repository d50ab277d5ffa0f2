/**
 * `Bus.publishHeld` (GATEWAY_RELAY_HOLD_MS): held messages wait, leave in the order
 * held, are overtaken by unheld ones, and are never lost to `flush` or `close`.
 */
import t, { type Test } from 'tap';
import type { Msg } from '@nats-io/nats-core';
import { Bus } from '#shared/runtime/bus.js';
import { createLogger } from '#shared/runtime/log.js';
import { startNats, type NatsServer } from '../../test/helpers/nats.js';
import { until } from '../../test/helpers/deadline.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (m: Msg): string => new TextDecoder().decode(m.data);
/** Long enough that nothing held in a test leaves by its timer. */
const NEVER_MS = 60_000;

async function bus(t: Test, nats: NatsServer, name: string, close = true): Promise<Bus> {
  const b = await Bus.connect({
    ...nats.connectOptions(),
    name,
    requestTimeoutMs: 2000,
    log: createLogger('test', 'error'),
  });
  if (close) t.teardown(() => b.close());
  return b;
}

/** A NATS of its own, a bus to publish on and what another connection receives on `h.>`. */
async function setup(t: Test, closeSender = true) {
  const nats = await startNats();
  t.teardown(() => nats.stop());
  const sender = await bus(t, nats, 'sender', closeSender);
  const receiver = await bus(t, nats, 'receiver');
  const got: Msg[] = [];
  receiver.subscribe('h.>', (m) => got.push(m));
  await receiver.nc.flush();
  return { sender, got, seen: () => got.map(text) };
}

t.test('held messages leave after unheld ones, in the order held, by flush', async (t) => {
  const { sender, seen } = await setup(t);
  sender.publishHeld('h.a', bytes('held 1'), NEVER_MS);
  sender.publishHeld('h.b', bytes('held 2'), NEVER_MS, 'h.reply');
  sender.publishBytes('h.a', bytes('unheld'));
  await until(() => seen().length === 1, 'the unheld one arrives');
  await sender.nc.flush();
  t.same(seen(), ['unheld'], 'the held ones wait');
  await sender.flush();
  await until(() => seen().length === 3, 'flush sends them');
  t.same(seen(), ['unheld', 'held 1', 'held 2'], 'in the order held');
});

t.test('held messages leave by their timer, with their reply subject', async (t) => {
  const { sender, got, seen } = await setup(t);
  sender.publishHeld('h.a', bytes('1'), 20);
  sender.publishHeld('h.a', bytes('2'), 20, 'h.reply');
  await until(() => seen().length === 2, 'both arrive without a flush');
  t.same(seen(), ['1', '2']);
  t.equal(got[1]?.reply, 'h.reply', 'the reply subject goes along');
  // A later one starts a new hold.
  sender.publishHeld('h.a', bytes('3'), 20);
  await until(() => seen().length === 3, 'a later one too');
});

t.test('a hold of 0 is an ordinary publish', async (t) => {
  const { sender, seen } = await setup(t);
  sender.publishHeld('h.a', bytes('now'), 0);
  await until(() => seen().length === 1, 'arrives with the turn');
});

t.test('close sends what is held', async (t) => {
  const { sender, seen } = await setup(t, false);
  sender.publishHeld('h.a', bytes('last words'), NEVER_MS);
  await sender.close();
  await until(() => seen().length === 1, 'arrives after the sender closed');
  t.same(seen(), ['last words']);
});
