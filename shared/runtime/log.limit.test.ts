import t from 'tap';
import { createLogger } from './log.js';
import { LimitedLog } from './log.limit.js';

const capture = () => {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('test', 'info', {}, (line) => {
    lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  return { lines, log };
};

t.test(
  'at most N lines per key and interval, then one summary with the dropped count',
  async (t) => {
    const { lines, log } = capture();
    // An interval no test outlives: the summary comes from close().
    const limited = new LimitedLog(log, { lines: 3, intervalMs: 3_600_000 });
    for (let i = 0; i < 600; i++) limited.warn('refused', 'refused', { i });
    for (let i = 0; i < 2; i++) limited.warn('other', 'other');
    t.equal(lines.length, 5, '3 of one key, 2 of another');
    t.same(
      lines.map((l) => l.msg),
      ['refused', 'refused', 'refused', 'other', 'other'],
    );
    limited.close();
    t.equal(lines.length, 6, 'one summary, for the key that dropped');
    t.match(lines[5], {
      level: 'warn',
      msg: 'log lines dropped by the rate limit',
      key: 'refused',
      dropped: 597,
      written: 3,
    });
    limited.warn('refused', 'refused');
    t.equal(lines.length, 7, 'a new interval writes again');
    limited.close();
    t.equal(lines.length, 7, 'nothing dropped, no summary');
  },
);

t.test('the summary comes when the interval ends, without another record', async (t) => {
  const { lines, log } = capture();
  const limited = new LimitedLog(log, { lines: 1, intervalMs: 20 });
  t.teardown(() => limited.close());
  for (let i = 0; i < 10; i++) limited.warn('k', 'm');
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (lines.length < 2) return;
      clearInterval(poll);
      resolve();
    }, 5);
  });
  t.match(lines[1], { key: 'k', dropped: 9 });
});

t.test('info lines share the limit; the summary of what was dropped is a warning', async (t) => {
  const captured = capture();
  const limited = new LimitedLog(captured.log, { lines: 2, intervalMs: 3_600_000 });
  Array.from({ length: 50 }, (_, i) => limited.info('decided', 'decided', { i }));
  limited.close();
  t.same(
    captured.lines.map((l) => `${String(l.level)} ${String(l.i ?? l.dropped)}`),
    ['info 0', 'info 1', 'warn 48'],
    'two lines, then the count of the 48 dropped',
  );
});
