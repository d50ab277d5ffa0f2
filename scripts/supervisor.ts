/**
 * What `npm start` does when one of its processes exits: the policy, pure, so that a
 * test reads the rules without starting anything (start.supervise.ts applies it).
 *
 * - nats-server (an essential process) exiting stops everything: every service
 *   depends on it, and its store is where their state comes back from.
 * - A service that crashes (a non-zero code, a signal) is started again after a
 *   delay that doubles with each crash in the window (250 ms, 500 ms, 1 s, ... at most
 *   10 s by default); the others keep serving, and its state comes back from
 *   JetStream as after any restart.
 * - Too many crashes within the window (5 in 60 s by default) is a crash loop: a
 *   restart would not help, so everything stops, with the reason.
 * - Exit 75 (EX_TEMPFAIL, ExitCode.startAgain) asks to be started again at once (an
 *   alert service that lost its lease); it is no crash.
 * - Exit 78 (EX_CONFIG) says this configuration cannot run: a restart would fail
 *   the same way, so everything stops, with the reason.
 * - Exit 0 is a service finding it has nothing to do here: it is left stopped. A
 *   process that must always serve (a gateway worker) exiting 0 counts as a crash.
 */
import { ExitCode } from '#shared/runtime/exit.js';

export interface RestartPolicy {
  /** Delay before the first restart after a crash, in ms (doubles with each further crash). */
  initialDelayMs: number;
  /** The longest delay before a restart, in ms. */
  maxDelayMs: number;
  /** This many crashes of one process within `crashLoopWindowMs` stop everything. */
  crashLoopCount: number;
  /** The window crashes are counted in, in ms. */
  crashLoopWindowMs: number;
}

/** The defaults, and the environment variables of `npm start` that change them. */
export const restartSettings = {
  initialDelayMs: { env: 'START_RESTART_DELAY_MS', default: 250 },
  maxDelayMs: { env: 'START_RESTART_MAX_DELAY_MS', default: 10_000 },
  crashLoopCount: { env: 'START_CRASH_LOOP_COUNT', default: 5 },
  crashLoopWindowMs: { env: 'START_CRASH_LOOP_WINDOW_MS', default: 60_000 },
} as const satisfies Record<keyof RestartPolicy, { env: string; default: number }>;

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  initialDelayMs: restartSettings.initialDelayMs.default,
  maxDelayMs: restartSettings.maxDelayMs.default,
  crashLoopCount: restartSettings.crashLoopCount.default,
  crashLoopWindowMs: restartSettings.crashLoopWindowMs.default,
};

/** The policy from `env` (each variable a whole number from 1); throws on a bad value. */
export function restartPolicy(env: NodeJS.ProcessEnv): RestartPolicy {
  const read = (key: keyof RestartPolicy): number => {
    const { env: name, default: def } = restartSettings[key];
    const text = env[name];
    if (text === undefined || text === '') return def;
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 1)
      throw new RangeError(`${name}: a whole number from 1, not ${JSON.stringify(text)}`);
    return n;
  };
  return {
    initialDelayMs: read('initialDelayMs'),
    maxDelayMs: read('maxDelayMs'),
    crashLoopCount: read('crashLoopCount'),
    crashLoopWindowMs: read('crashLoopWindowMs'),
  };
}

/** How a supervised process is treated when it exits. */
export interface ProcessRole {
  /** Its exit stops everything (nats-server). */
  essential: boolean;
  /** Exit 0 means done, not a crash (a service with nothing to do). */
  mayFinish: boolean;
}

/** What to do about one exit. */
export type ExitDecision =
  | { kind: 'restart'; delayMs: number; crashes: number }
  | { kind: 'again' }
  | { kind: 'leave' }
  | { kind: 'stop'; reason: string };

/** How a process ended, as a log shows it: `code 1` or `signal SIGKILL`. */
export function describeExit(code: number | null, signal: string | null): string {
  if (signal !== null) return `signal ${signal}`;
  return code === null ? 'unknown status' : `code ${code}`;
}

/**
 * Decides about one exit at `now`. `crashes` are the times of the process's earlier
 * crashes (any order); the result's `crashes` are those still in the window, this
 * one included, for the next call.
 */
export function decideExit(o: {
  name: string;
  role: ProcessRole;
  code: number | null;
  signal: string | null;
  now: number;
  crashes: readonly number[];
  policy: RestartPolicy;
}): { decision: ExitDecision; crashes: number[] } {
  const how = describeExit(o.code, o.signal);
  const kept = o.crashes.filter((at) => o.now - at < o.policy.crashLoopWindowMs);
  if (o.role.essential)
    return { decision: { kind: 'stop', reason: `${o.name} exited (${how})` }, crashes: kept };
  if (o.signal === null && o.code === ExitCode.config) {
    const reason = `${o.name} cannot run with this configuration (${how}); see its log`;
    return { decision: { kind: 'stop', reason }, crashes: kept };
  }
  if (o.signal === null && o.code === ExitCode.startAgain)
    return { decision: { kind: 'again' }, crashes: kept };
  if (o.signal === null && o.code === 0 && o.role.mayFinish)
    return { decision: { kind: 'leave' }, crashes: kept };
  const crashes = [...kept, o.now];
  if (crashes.length >= o.policy.crashLoopCount) {
    const reason = `${o.name} crashed ${crashes.length} times within ${o.policy.crashLoopWindowMs} ms (last: ${how}): a crash loop`;
    return { decision: { kind: 'stop', reason }, crashes };
  }
  return {
    decision: {
      kind: 'restart',
      delayMs: backoffMs(crashes.length, o.policy),
      crashes: crashes.length,
    },
    crashes,
  };
}

/** The delay before the restart after the `n`th crash in the window (n from 1). */
export function backoffMs(n: number, policy: RestartPolicy): number {
  const doubled = policy.initialDelayMs * 2 ** Math.min(Math.max(0, n - 1), 30);
  return Math.min(policy.maxDelayMs, doubled);
}
