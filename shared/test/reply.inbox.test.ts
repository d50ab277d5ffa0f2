import t, { type Test } from 'tap';
import { connect } from '@nats-io/transport-node';
import { ReplyInbox } from '#shared/runtime/reply.inbox.js';
import { Bus } from '#shared/runtime/bus.js';
import { createLogger } from '#shared/runtime/log.js';
import { NoRespondersError, RequestTimeoutError } from '#shared/wire/errors.js';
import { startNats } from '../../test/helpers/nats.js';

class Expired extends Error {}

/** A nats-server, a connection to it and an inbox on it, all stopped after `t`. */
async function inboxOnNats(t: Test) {
  const nats = await startNats();
  t.teardown(() => nats.stop());
  const nc = await connect(nats.connectOptions());
  t.teardown(() => nc.close());
  return { nc, inbox: new ReplyInbox(nc) };
}

t.test('ReplyInbox: replies, each its own timeout, late replies, fail and close', async (t) => {
  const { nc, inbox } = await inboxOnNats(t);
  const expired = (label: string) => () => new Expired(label);

  const a = inbox.expect(5_000, expired('a'));
  nc.publish(a.subject, 'hello');
  t.equal(new TextDecoder().decode((await a.reply).data), 'hello', 'the reply arrives');
  t.equal(inbox.size, 0, 'and nothing waits any more');

  // A long timeout first, then a short one: the short one expires, the long one still waits.
  const started = Date.now();
  const long = inbox.expect(2_000, expired('long'));
  const short = inbox.expect(100, expired('short'));
  const shortErr = await short.reply.catch((e: unknown) => e);
  t.ok(shortErr instanceof Expired && shortErr.message === 'short', 'the short timeout expired');
  t.ok(Date.now() - started >= 100, 'not before its time');
  t.equal(inbox.size, 1, 'the long one still waits');
  nc.publish(long.subject, 'late but in time');
  t.equal(new TextDecoder().decode((await long.reply).data), 'late but in time', 'and is answered');

  // A reply after the timeout is dropped; the next request is unaffected.
  nc.publish(short.subject, 'too late');
  const b = inbox.expect(5_000, expired('b'));
  nc.publish(b.subject, 'b');
  t.equal(new TextDecoder().decode((await b.reply).data), 'b', 'a late reply does not disturb');

  const c = inbox.expect(5_000, expired('c'));
  inbox.fail(c.subject, new Error('could not send'));
  t.match(
    await c.reply.catch((e: unknown) => e),
    { message: 'could not send' },
    'fail refuses now',
  );
  inbox.fail('_INBOX.someone.else.1', new Error('not ours'));

  const d = inbox.expect(5_000, expired('d'));
  const e = inbox.expect(300, expired('e'));
  inbox.close();
  t.ok((await d.reply.catch((x: unknown) => x)) instanceof Expired, 'close refuses the waiting');
  t.match(await e.reply.catch((x: unknown) => x), { message: 'e' }, 'each with its own error');
  t.equal(inbox.size, 0);
});

t.test('ReplyInbox: many waiting with one timeout expire in order, none left', async (t) => {
  const { nc, inbox } = await inboxOnNats(t);
  t.teardown(() => inbox.close());
  const waiting = Array.from({ length: 500 }, (_, i) =>
    inbox.expect(60, () => new Expired(`${i}`)),
  );
  // Every other one answered: the rest expire around them.
  for (let i = 0; i < waiting.length; i += 2) nc.publish(waiting[i]!.subject, `${i}`);
  const outcomes = await Promise.all(
    waiting.map((w) =>
      w.reply.then(
        () => 'answered',
        (e: unknown) => (e instanceof Expired ? 'expired' : 'other'),
      ),
    ),
  );
  t.same(
    outcomes,
    waiting.map((_, i) => (i % 2 === 0 ? 'answered' : 'expired')),
    'answered ones resolve, the others expire',
  );
  t.equal(inbox.size, 0, 'none left waiting');
});

t.test('Bus.request: in the turn order, typed failures', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.stop());
  const log = createLogger('test', 'error');
  const server = await Bus.connect({
    ...nats.connectOptions(),
    name: 's',
    requestTimeoutMs: 300,
    log,
  });
  const caller = await Bus.connect({
    ...nats.connectOptions(),
    name: 'c',
    requestTimeoutMs: 300,
    log,
  });
  t.teardown(async () => {
    await caller.close();
    await server.close();
  });
  const seen: string[] = [];
  server.subscribe('note.>', (m) => seen.push(m.subject));
  server.subscribe('echo.>', (m) => {
    seen.push(m.subject);
    server.respond(m, { echo: m.subject });
  });
  server.subscribe('silent.>', () => undefined);
  await server.flush();

  // A publish, then requests, in one turn: they reach the server in that order.
  caller.publish('note.first', {});
  const replies = await Promise.all(
    Array.from({ length: 200 }, (_, i) => caller.request<{ echo: string }>(`echo.${i}`, {})),
  );
  t.same(
    replies.map((r) => r.echo),
    Array.from({ length: 200 }, (_, i) => `echo.${i}`),
    'every request answered, each with its own reply',
  );
  t.equal(seen[0], 'note.first', 'what was published before a request arrived before it');
  t.same(
    seen.slice(1),
    Array.from({ length: 200 }, (_, i) => `echo.${i}`),
    'requests in order',
  );

  const none = await caller.request('nobody.here', {}).catch((e: unknown) => e);
  t.ok(none instanceof NoRespondersError, 'nobody subscribed: NoRespondersError');
  const silent = await caller.request('silent.x', {}, 150).catch((e: unknown) => e);
  t.ok(silent instanceof RequestTimeoutError, 'no answer: RequestTimeoutError');
  t.match((silent as Error).message, /within 150 ms/, 'naming its timeout');

  const closing = caller.request('silent.y', {}, 10_000).catch((e: unknown) => e);
  await caller.close();
  t.ok((await closing) instanceof RequestTimeoutError, 'closing the bus refuses what waits, typed');
});
