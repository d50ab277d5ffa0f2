/**
 * The stream service's figures in its metrics registry: hook calls by action,
 * result (allowed, denied, and error when a callback could not be decided) and reason, and
 * what each reconcile poll read from SRS (up, active streams, frames per room), or
 * that it failed.
 */
import t from 'tap';
import type { MetricPoint } from '#shared/runtime/metrics.js';
import { SrsError } from '../../../test/srs/srs.standin.js';
import { startStreamSystem, type StreamSystem } from './stream.harness.js';

const points = (sys: StreamSystem, name: string): MetricPoint[] =>
  sys.stream.metrics.snapshot().find((s) => s.spec.name === name)?.points ?? [];
const valueOf = (sys: StreamSystem, name: string, attrs: Record<string, string> = {}) =>
  points(sys, name).find((p) => Object.entries(attrs).every(([k, v]) => p.attrs[k] === v))?.value;

t.test('hook calls are counted by action, result and reason', async (t) => {
  const sys = await startStreamSystem(t, { env: { STREAM_HOOK_DEADLINE_MS: '300' } });
  const room = await sys.createRoom('r1');
  t.ok((await sys.srs.publish('r1', `?key=${room.streamKey}`)).ok);
  t.notOk((await sys.srs.publish('r1', '?key=wrong')).ok, 'a wrong key is denied');
  t.ok((await sys.srs.play('r1')).ok);

  // The room service stalls: undecided in time is an error, whatever SRS is told.
  sys.log.delayMs = 1000;
  t.same(
    await sys.srs.play('r1'),
    {
      ok: false,
      clientId: sys.srs.hooksOf('on_play')[1]?.body.client_id,
      error: SrsError.hookCode,
    },
    'denied at the deadline',
  );
  sys.log.delayMs = 0;

  sys.srs.hookBase = sys.hookBase.secret.replace(/[^/]+$/, 'x'.repeat(32));
  t.notOk((await sys.srs.play('r1')).ok, 'a wrong secret is refused');

  t.same(
    points(sys, 'srs_hook_calls').sort((a, b) =>
      `${a.attrs.action}${a.attrs.result}`.localeCompare(`${b.attrs.action}${b.attrs.result}`),
    ),
    [
      { attrs: { action: 'on_play', result: 'allowed', reason: 'none' }, value: 1 },
      { attrs: { action: 'on_play', result: 'denied', reason: 'NOT_ALLOWED' }, value: 1 },
      { attrs: { action: 'on_play', result: 'error', reason: 'UNAVAILABLE' }, value: 1 },
      { attrs: { action: 'on_publish', result: 'allowed', reason: 'none' }, value: 1 },
      { attrs: { action: 'on_publish', result: 'denied', reason: 'NOT_ALLOWED' }, value: 1 },
    ],
  );
});

t.test(
  'a poll records SRS up, the active streams and their frames; a failed one, errors',
  async (t) => {
    const sys = await startStreamSystem(t);
    const room = await sys.createRoom('r1');
    await sys.createRoom('r2');
    const pub = await sys.srs.publish('r1', `?key=${room.streamKey}`);
    t.ok(pub.ok);
    t.ok((await sys.srs.play('r2')).ok, 'a stream with a player and no publisher is not active');

    await sys.stream.reconcile();
    t.equal(valueOf(sys, 'srs_up'), 1);
    t.equal(valueOf(sys, 'streams_active'), 1);
    const first = valueOf(sys, 'srs_stream_recv_bytes', { room: 'r1' });
    t.type(first, 'number', 'frames of the active stream, by room');
    t.same(
      points(sys, 'srs_stream_recv_bytes').map((p) => p.attrs.room),
      ['r1'],
      'only streams with an active publisher',
    );
    await sys.until('frames move', () => {
      void sys.stream.reconcile();
      return (valueOf(sys, 'srs_stream_recv_bytes', { room: 'r1' }) ?? 0) > (first ?? 0);
    });

    sys.srs.disconnect(pub.clientId);
    await sys.srs.settled();
    await sys.stream.reconcile();
    t.equal(valueOf(sys, 'streams_active'), 0);
    t.same(points(sys, 'srs_stream_recv_bytes'), [], 'a stream that stopped leaves no series');
    t.equal(valueOf(sys, 'srs_poll_errors'), undefined, 'no failed poll yet');

    sys.srs.faults.apiHttp500 = true;
    await sys.stream.reconcile();
    await sys.stream.reconcile();
    t.equal(valueOf(sys, 'srs_up'), 0);
    t.equal(valueOf(sys, 'srs_poll_errors'), 2);
    sys.srs.faults.apiHttp500 = false;
    await sys.stream.reconcile();
    t.equal(valueOf(sys, 'srs_up'), 1, 'up again');
  },
);
