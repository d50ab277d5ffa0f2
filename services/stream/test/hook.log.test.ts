/**
 * Refused SRS callbacks are answered and counted every time, but their warnings are
 * rate-limited (STREAM_HOOK_LOG_LINES per STREAM_HOOK_LOG_INTERVAL_MS): a flood of bad
 * callbacks writes a bounded number of lines and one line with the count dropped.
 */
import t from 'tap';
import { Agent, request } from 'node:http';
import { loadConfig } from '#config/config.js';
import { createLogger } from '#shared/runtime/log.js';
import { loadNativeUws } from '#shared/runtime/uws.js';
import { HookServer } from '../stream.http.js';
import type { StreamService } from '../stream.service.js';

const BAD = 600;
const LINES = 5;

function post(agent: Agent, port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent,
        // Not an allowed address (loopback 127.0.0.1 and ::1 are, by default).
        localAddress: '127.0.0.2',
        headers: { 'Content-Type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end('{}');
  });
}

t.test(`${BAD} refused callbacks write ${LINES} warnings and one dropped count`, async (t) => {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger('stream', 'info', {}, (line) => {
    lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  let rejected = 0;
  const server = new HookServer({
    uws: loadNativeUws(),
    config: loadConfig({
      STREAM_HOST: '127.0.0.1',
      STREAM_PORT: '0',
      STREAM_HOOK_LOG_LINES: String(LINES),
      // Longer than the test: the summary is written by close().
      STREAM_HOOK_LOG_INTERVAL_MS: '3600000',
    }).stream,
    service: {
      rejected: () => {
        rejected++;
      },
    } as unknown as StreamService,
    logger,
  });
  const port = await server.listen();
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  let closed = false;
  t.teardown(() => {
    agent.destroy();
    if (!closed) server.close();
  });

  const statuses = await Promise.all(
    Array.from({ length: BAD }, (_, i) =>
      post(agent, port, i % 2 === 0 ? '/api/srs/hooks/on_play' : '/api/srs/hooks/wrong/on_play'),
    ),
  );
  t.ok(
    statuses.every((s) => s === 403),
    'every one refused with 403',
  );
  t.equal(rejected, BAD, 'and counted');
  const refused = lines.filter((l) => String(l.msg).startsWith('SRS callback refused'));
  t.equal(refused.length, LINES, `${LINES} warnings written`);
  t.match(refused[0], { level: 'warn', remote: '127.0.0.2' });

  server.close();
  closed = true;
  const summary = lines.filter((l) => l.msg === 'log lines dropped by the rate limit');
  t.equal(summary.length, 1, 'one summary line');
  t.match(summary[0], { key: 'hook-refused', dropped: BAD - LINES, written: LINES });
  t.equal(lines.length, LINES + 1, `${LINES + 1} lines for ${BAD} refusals`);
});
