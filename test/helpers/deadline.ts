/**
 * A test's wait with a deadline that a stalled machine cannot fool.
 *
 * Node runs timers before the poll phase of a loop turn. After a stall of the whole
 * process (a busy or paused machine), a deadline would fire with the awaited data
 * still unread in its socket. The deadline is judged after the poll phase instead
 * (setImmediate runs after it), and its message says how long the process stalled
 * meanwhile, so that a silent peer and a stalled machine can be told apart.
 */
export interface Deadline {
  /** The wait succeeded: the deadline will not fire. */
  cancel(): void;
}

/** Calls `expired(stallNote)` once `ms` have passed and the sockets have been read, unless cancelled. */
export function deadline(ms: number, expired: (stallNote: string) => void): Deadline {
  let done = false;
  let last = performance.now();
  let longest = 0;
  // The longest gap between ticks, beyond the 100 ms period: how long the process stalled.
  const tick = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last - 100);
    last = now;
  }, 100);
  tick.unref();
  const cancel = () => {
    done = true;
    clearTimeout(timer);
    clearInterval(tick);
  };
  const timer = setTimeout(() => {
    setImmediate(() => {
      if (done) return;
      cancel();
      const stalled = Math.round(Math.max(longest, performance.now() - last - 100));
      expired(`longest stall of this process meanwhile: ${stalled} ms`);
    });
  }, ms);
  return { cancel };
}

/**
 * Resolves once `holds()` is true, checking every `everyMs`; rejects with `what`
 * after `ms`. For what a background timer does "soon" (a snapshot interval, say):
 * a fixed sleep would fail on a slow machine, this waits for the fact.
 */
export async function until(
  holds: () => boolean,
  what: string,
  { ms = 10_000, everyMs = 20 }: { ms?: number; everyMs?: number } = {},
): Promise<void> {
  const end = performance.now() + ms;
  while (!holds()) {
    if (performance.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Resolves with the first value `probe` gives that is not undefined (`probe` may be
 * async, and may throw while what it looks at is not up yet), checking every
 * `everyMs`; rejects with `what` (and the probe's last error) after `ms`.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  { ms = 10_000, everyMs = 50 }: { ms?: number; everyMs?: number } = {},
): Promise<T> {
  const end = performance.now() + ms;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (performance.now() > end) {
      const last = lastError instanceof Error ? ` (last: ${lastError.message})` : '';
      throw new Error(`not within ${ms} ms: ${what}${last}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** `waitFor` of a condition: resolves once `holds()` (sync or async) is true. */
export async function waitUntil(
  what: string,
  holds: () => boolean | Promise<boolean>,
  options?: { ms?: number; everyMs?: number },
): Promise<void> {
  await waitFor(what, async () => ((await holds()) ? true : undefined), options);
}
