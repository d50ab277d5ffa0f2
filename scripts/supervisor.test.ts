/**
 * `npm start`'s restart policy: who is restarted, after how long, and when a crash
 * loop or nats-server's exit stops everything.
 */
import t from 'tap';
import {
  DEFAULT_RESTART_POLICY,
  backoffMs,
  decideExit,
  restartPolicy,
  type ExitDecision,
  type ProcessRole,
} from './supervisor.js';

const policy = DEFAULT_RESTART_POLICY;
const service: ProcessRole = { essential: false, mayFinish: true };

/** Feeds `exits` (time, code, signal) to the policy in order, as one process's history. */
function run(
  exits: [at: number, code: number | null, signal?: string][],
  role: ProcessRole = service,
): ExitDecision[] {
  let crashes: number[] = [];
  return exits.map(([now, code, signal]) => {
    const r = decideExit({
      name: 'room',
      role,
      code,
      signal: signal ?? null,
      now,
      crashes,
      policy,
    });
    crashes = r.crashes;
    return r.decision;
  });
}

t.test('the defaults: 250 ms doubling to 10 s; 5 crashes within 60 s are a loop', async (t) => {
  t.same(policy, {
    initialDelayMs: 250,
    maxDelayMs: 10_000,
    crashLoopCount: 5,
    crashLoopWindowMs: 60_000,
  });
  t.same(
    [1, 2, 3, 4, 5, 6, 7, 8, 40].map((n) => backoffMs(n, policy)),
    [250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000],
  );
});

t.test(
  'a crash is restarted with a delay that doubles with each crash in the window',
  async (t) => {
    t.match(
      run([
        [0, 1],
        [1_000, null, 'SIGKILL'],
        [3_000, 1],
        [6_000, 139],
      ]),
      [
        { kind: 'restart', delayMs: 250, crashes: 1 },
        { kind: 'restart', delayMs: 500, crashes: 2 },
        { kind: 'restart', delayMs: 1000, crashes: 3 },
        { kind: 'restart', delayMs: 2000, crashes: 4 },
      ],
    );
  },
);

t.test('the fifth crash within 60 s stops everything, with the reason', async (t) => {
  const last = run([
    [0, 1],
    [1_000, 1],
    [2_000, 1],
    [3_000, 1],
    [4_000, null, 'SIGSEGV'],
  ]).at(-1);
  t.match(last, {
    kind: 'stop',
    reason: /room crashed 5 times within 60000 ms \(last: signal SIGSEGV\)/,
  });
});

t.test(
  'crashes older than the window are forgotten: a service that crashes now and then is kept',
  async (t) => {
    const decisions = run(Array.from({ length: 10 }, (_, i): [number, number] => [i * 20_000, 1]));
    t.ok(
      decisions.every((d) => d.kind === 'restart'),
      'a crash every 20 s never makes 5 in 60 s',
    );
    t.match(decisions.at(-1), { kind: 'restart', crashes: 3, delayMs: 1000 });
    t.match(
      run([
        [0, 1],
        [1_000, 1],
        [100_000, 1],
      ]).at(-1),
      { delayMs: 250, crashes: 1 },
    );
  },
);

t.test('nats-server exiting stops everything, whatever its code', async (t) => {
  const nats: ProcessRole = { essential: true, mayFinish: false };
  for (const [code, signal] of [[0], [1], [null, 'SIGKILL']] as [number | null, string?][]) {
    const [d] = run([[0, code, signal]], nats);
    t.match(d, { kind: 'stop', reason: /^room exited \((code|signal) / });
  }
});

t.test('exit 0, 75 and 78: done, start again at once, cannot run', async (t) => {
  t.same(run([[0, 0]]), [{ kind: 'leave' }], 'a service with nothing to do is left stopped');
  t.match(
    run([[0, 0]], { essential: false, mayFinish: false }),
    [{ kind: 'restart', delayMs: 250 }],
    'a gateway worker always serves: exit 0 is a crash',
  );
  t.same(
    run([
      [0, 75],
      [1, 75],
      [2, 75],
      [3, 75],
      [4, 75],
      [5, 75],
    ]).map((d) => d.kind),
    ['again', 'again', 'again', 'again', 'again', 'again'],
    '75 asks to be started again, and is no crash',
  );
  t.match(run([[0, 78]]), [{ kind: 'stop', reason: /cannot run with this configuration/ }]);
});

t.test('the policy from the environment', async (t) => {
  t.same(restartPolicy({}), policy);
  t.same(
    restartPolicy({
      START_RESTART_DELAY_MS: '10',
      START_RESTART_MAX_DELAY_MS: '40',
      START_CRASH_LOOP_COUNT: '3',
      START_CRASH_LOOP_WINDOW_MS: '1000',
    }),
    { initialDelayMs: 10, maxDelayMs: 40, crashLoopCount: 3, crashLoopWindowMs: 1000 },
  );
  for (const bad of ['0', '-1', 'soon', '1.5'])
    t.throws(() => restartPolicy({ START_CRASH_LOOP_COUNT: bad }), /START_CRASH_LOOP_COUNT/);
});
