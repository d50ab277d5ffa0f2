/**
 * Each hook decision is written once at info (room, action, SRS client id, result,
 * reason), never with the stream key or token it carried, counted in
 * `srs_hook_calls` by action, result and reason, and rate-limited per action and
 * result (STREAM_HOOK_DECISION_LOG_LINES per STREAM_HOOK_DECISION_LOG_INTERVAL_MS):
 * a flood writes a bounded number of lines but is counted whole.
 */
import t, { type Test } from 'tap';
import type { MetricPoint } from '#shared/runtime/metrics.js';
import { startSystem, type System } from '../../../test/helpers/system.js';
import { waitUntil } from '../../../test/helpers/deadline.js';

type Line = Record<string, unknown>;

async function start(t: Test, env: Record<string, string> = {}) {
  const raw: string[] = [];
  const sys = await startSystem(t, env, { stream: {}, logWrite: (line) => raw.push(line) });
  const stream = sys.stream;
  if (stream === undefined) throw new Error('no stream side');
  const decisions = (): Line[] =>
    raw.map((l) => JSON.parse(l) as Line).filter((l) => l.msg === 'SRS hook decided');
  return { sys, stream, raw, decisions };
}

const calls = (sys: System): MetricPoint[] =>
  sys.stream?.service.metrics.snapshot().find((s) => s.spec.name === 'srs_hook_calls')?.points ??
  [];
const count = (sys: System, attrs: Record<string, string>): number =>
  calls(sys)
    .filter((p) => Object.entries(attrs).every(([k, v]) => p.attrs[k] === v))
    .reduce((n, p) => n + p.value, 0);

const until = (what: string, pred: () => boolean) =>
  waitUntil(what, pred, { ms: 5000, everyMs: 10 });

t.test('every decision is logged once, with its reason, and counted', async (t) => {
  const { sys, stream, raw, decisions } = await start(t);
  const room = (await sys.createRoom('r1', 'owner')) as { streamKey?: string };
  const key = room.streamKey ?? '';
  t.ok(key.length > 0, 'the room has a stream key');
  const srs = stream.srs;

  const pub = await srs.publish('r1', `?key=${key}`);
  t.ok(pub.ok, 'published with the key');
  const wrong = await srs.publish('r1', '?key=not-the-key');
  t.notOk(wrong.ok, 'a wrong key is denied');
  const play = await srs.play('r1');
  t.ok(play.ok, 'played');
  const lost = await srs.play('nowhere');
  t.notOk(lost.ok, 'an unknown room is denied');
  const hls = await srs.playHls('r1', '');
  t.ok(hls.ok, 'an HLS session is admitted');
  srs.disconnect(play.clientId);
  srs.disconnect(pub.clientId);
  await until('seven decisions', () => decisions().length >= 7);

  const byClient = (clientId: string, action: string) =>
    decisions().filter((d) => d.clientId === clientId && d.action === action);
  t.match(byClient(pub.clientId, 'on_publish'), [
    { level: 'info', room: 'r1', result: 'allowed', reason: 'none' },
  ]);
  t.match(byClient(wrong.clientId, 'on_publish'), [
    { level: 'info', room: 'r1', result: 'denied', reason: /^[A-Z_]+$/ },
  ]);
  t.match(byClient(play.clientId, 'on_play'), [{ room: 'r1', result: 'allowed' }]);
  t.match(byClient(lost.clientId, 'on_play'), [
    { room: 'nowhere', result: 'denied', reason: 'ROOM_NOT_FOUND' },
  ]);
  // SRS names an HLS session's stream `r1.m3u8`: the line names the room, and says HLS.
  t.match(byClient(hls.clientId, 'on_play'), [{ room: 'r1', hls: true, result: 'allowed' }]);
  t.match(byClient(play.clientId, 'on_stop'), [{ room: 'r1', result: 'allowed' }]);
  t.match(byClient(pub.clientId, 'on_unpublish'), [{ room: 'r1', result: 'allowed' }]);
  t.equal(decisions().length, 7, 'one line per decision');
  t.notOk(
    raw.some((l) => l.includes(key)),
    'the stream key is in no log line',
  );

  const deniedReason = byClient(wrong.clientId, 'on_publish')[0]?.reason;
  t.equal(count(sys, { action: 'on_publish', result: 'allowed', reason: 'none' }), 1);
  t.equal(
    count(sys, { action: 'on_publish', result: 'denied', reason: String(deniedReason) }),
    1,
    'the denial counted under its reason',
  );
  t.equal(count(sys, { action: 'on_play', result: 'denied', reason: 'ROOM_NOT_FOUND' }), 1);
  t.equal(count(sys, { action: 'on_stop' }), 1);
  t.equal(count(sys, { action: 'on_unpublish' }), 1);
});

t.test('a flood of denials writes a bounded number of lines, and is counted whole', async (t) => {
  const LINES = 3;
  const FLOOD = 60;
  const { sys, stream, decisions } = await start(t, {
    STREAM_HOOK_DECISION_LOG_LINES: String(LINES),
    // Longer than the test: the interval never ends while it runs.
    STREAM_HOOK_DECISION_LOG_INTERVAL_MS: '3600000',
  });
  await sys.createRoom('r1', 'owner');
  for (let i = 0; i < FLOOD; i += 10) {
    await Promise.all(Array.from({ length: 10 }, () => stream.srs.play('nowhere')));
  }
  t.equal(
    count(sys, { action: 'on_play', result: 'denied', reason: 'ROOM_NOT_FOUND' }),
    FLOOD,
    'every denial counted',
  );
  t.equal(decisions().length, LINES, `${LINES} lines for ${FLOOD} denials`);
  const ok = await stream.srs.play('r1');
  t.ok(ok.ok);
  t.match(
    decisions().filter((d) => d.result === 'allowed'),
    [{ action: 'on_play', room: 'r1', clientId: ok.clientId }],
    'a flood of denials does not hide what is allowed',
  );
});
