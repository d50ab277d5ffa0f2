import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import {
  JetStreamAckTimeoutError,
  JetStreamPublishError,
  JetStreamPublisher,
} from '#shared/runtime/jetstream.publisher.js';
import { isWrongLastSequence } from '#shared/runtime/streams.js';
import { startNats } from '../../test/helpers/nats.js';

t.test('JetStreamPublisher: stored, deduplicated, fenced, refused, timed out', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.stop());
  const nc = await connect(nats.connectOptions());
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'T', subjects: ['t.>'] });
  const pub = new JetStreamPublisher(nc, 300);
  t.teardown(() => pub.close());
  const data = new TextEncoder().encode('{"n":1}');

  const first = await pub.publish('t.a', data, { msgId: 'm1', expect: { stream: 'T' } });
  t.same(first, { stream: 'T', seq: 1, duplicate: false }, 'stored: the PubAck is read');
  const again = await pub.publish('t.a', data, { msgId: 'm1' });
  t.same(again, { stream: 'T', seq: 1, duplicate: true }, 'the same message id is a duplicate');
  const stored = await jsm.streams.getMessage('T', { seq: 1 });
  t.equal(stored?.header.get('Nats-Msg-Id'), 'm1', 'the message id went as a header');

  const fenced = await pub.publish('t.a', data, { expect: { lastSubjectSequence: 1 } });
  t.equal(fenced.seq, 2, 'the fence holds when the last subject sequence matches');
  const stale = await pub
    .publish('t.a', data, { expect: { lastSubjectSequence: 1 } })
    .catch((e: unknown) => e);
  t.ok(isWrongLastSequence(stale), 'a stale fence is refused as wrong last sequence');
  t.equal((await jsm.streams.info('T')).state.messages, 2, 'and nothing was stored');

  const wrongStream = await pub
    .publish('t.a', data, { expect: { stream: 'OTHER' } })
    .catch((e: unknown) => e);
  t.ok(wrongStream instanceof JetStreamPublishError, 'an expectation JetStream refuses is typed');
  t.notOk(isWrongLastSequence(wrongStream), 'and not taken for a fence conflict');

  const none = await pub.publish('nostream.a', data).catch((e: unknown) => e);
  t.ok(none instanceof JetStreamPublishError, 'no stream on the subject: refused');
  t.equal((none as JetStreamPublishError).status, 503, 'as the server said: no responders');

  // A core subscriber that never answers: the acknowledgement never comes.
  nc.subscribe('silent.a', { callback: () => undefined });
  await nc.flush();
  const silent = await pub.publish('silent.a', data).catch((e: unknown) => e);
  t.ok(silent instanceof JetStreamAckTimeoutError, 'no acknowledgement: a timeout, typed');

  const after = await pub.publish('t.b', data);
  t.equal(after.seq, 3, 'the publisher goes on after a timeout');
});
