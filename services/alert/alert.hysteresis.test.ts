/** The hysteresis `step`: table-driven cases and properties over random samples. */
import t from 'tap';
import fc from 'fast-check';
import type { AlertEvent } from '#shared/wire/alert.events.js';
import { idleTracker, step, type Tracker } from './alert.hysteresis.js';
import type { Rule } from './alert.rules.js';

const rule: Rule = {
  id: 'gateway_connections',
  severity: 'warning',
  threshold: 100,
  clearAt: 90,
  forMs: 1000,
  clearForMs: 2000,
  unit: '',
};

/** Runs samples `[time, value | null]` through `step`; the changes as `[time, type]`. */
function run(samples: [number, number | null][], r: Rule = rule): [number, string][] {
  let tracker: Tracker = idleTracker;
  const out: [number, string][] = [];
  for (const [now, value] of samples) {
    const res = step(r, 'g1', tracker, value === null ? undefined : { value }, now);
    tracker = res.tracker;
    if (res.event) out.push([now, res.event.type]);
  }
  return out;
}

t.test(
  'step: threshold, window and hysteresis (threshold 100, clear 90, for 1 s, clear 2 s)',
  async (t) => {
    const cases: { name: string; samples: [number, number | null][]; want: [number, string][] }[] =
      [
        {
          name: 'stays below',
          samples: [
            [0, 50],
            [1000, 99],
            [5000, 100],
          ],
          want: [],
        },
        {
          name: 'above for the whole window is raised once',
          samples: [
            [0, 150],
            [500, 150],
            [1000, 150],
            [1500, 200],
            [9000, 101],
          ],
          want: [[1000, 'alert_raised']],
        },
        {
          name: 'a dip under the threshold restarts the window',
          samples: [
            [0, 150],
            [900, 100],
            [1000, 150],
            [1900, 150],
            [2000, 150],
          ],
          want: [[2000, 'alert_raised']],
        },
        {
          name: 'inside the band a raised alert stays raised',
          samples: [
            [0, 150],
            [1000, 150],
            [2000, 95],
            [5000, 91],
            [9000, 100],
          ],
          want: [[1000, 'alert_raised']],
        },
        {
          name: 'at or under the clear level for the clear window resolves once',
          samples: [
            [0, 150],
            [1000, 150],
            [2000, 90],
            [3000, 10],
            [4000, 10],
            [8000, 0],
          ],
          want: [
            [1000, 'alert_raised'],
            [4000, 'alert_resolved'],
          ],
        },
        {
          name: 'back over the clear level restarts the clear window',
          samples: [
            [0, 150],
            [1000, 150],
            [2000, 80],
            [3500, 95],
            [4000, 80],
            [5999, 80],
            [6000, 80],
          ],
          want: [
            [1000, 'alert_raised'],
            [6000, 'alert_resolved'],
          ],
        },
        {
          name: 'no data counts as clear',
          samples: [
            [0, 150],
            [1000, 150],
            [2000, null],
            [4000, null],
          ],
          want: [
            [1000, 'alert_raised'],
            [4000, 'alert_resolved'],
          ],
        },
        {
          name: 'raised again after a resolve',
          samples: [
            [0, 150],
            [1000, 150],
            [2000, 0],
            [4000, 0],
            [5000, 150],
            [6000, 150],
          ],
          want: [
            [1000, 'alert_raised'],
            [4000, 'alert_resolved'],
            [6000, 'alert_raised'],
          ],
        },
      ];
    for (const c of cases) t.same(run(c.samples), c.want, c.name);
    t.same(run([[0, 101]], { ...rule, forMs: 0 }), [[0, 'alert_raised']], 'for 0 raises at once');
    t.same(
      run(
        [
          [0, 100],
          [5000, 100],
        ],
        { ...rule, forMs: 0 },
      ),
      [],
      'equal to the threshold is not over it',
    );
  },
);

t.test('step: the alert keeps its id and says what is wrong', async (t) => {
  let tracker: Tracker = idleTracker;
  const events: AlertEvent[] = [];
  for (const [now, value] of [
    [0, 150],
    [1000, 150.456],
    [2000, 0],
    [4000, 0],
  ] as const) {
    const r = step(rule, 'gw-7', tracker, { value }, now);
    tracker = r.tracker;
    if (r.event) events.push(r.event);
  }
  const [raised, resolved] = events;
  t.equal(raised?.alert.id, 'gateway_connections:gw-7:1000');
  t.equal(resolved?.alert.id, raised?.alert.id);
  t.match(raised?.alert, {
    rule: 'gateway_connections',
    severity: 'warning',
    key: 'gw-7',
    state: 'raised',
    raisedAt: 1000,
    resolvedAt: null,
    value: 150.46,
    threshold: 100,
    summary: 'gateway gw-7: 150.46 WebSocket connections (limit 100)',
  });
  t.match(resolved?.alert, { state: 'resolved', raisedAt: 1000, resolvedAt: 4000 });
});

// ---- properties ----

const ruleArb = fc
  .record({
    threshold: fc.integer({ min: -1000, max: 1000 }),
    band: fc.integer({ min: 0, max: 500 }),
    forMs: fc.integer({ min: 0, max: 5000 }),
    clearForMs: fc.integer({ min: 0, max: 5000 }),
  })
  .map((r): Rule => ({
    ...rule,
    threshold: r.threshold,
    clearAt: r.threshold - r.band,
    forMs: r.forMs,
    clearForMs: r.clearForMs,
  }));
const samplesArb = fc.array(
  fc.tuple(
    fc.integer({ min: 0, max: 3000 }),
    fc.option(fc.double({ min: -2000, max: 2000, noNaN: true }), { nil: null }),
  ),
  { maxLength: 200 },
);
/** Samples with increasing times from gaps. */
const timed = (gaps: [number, number | null][], start = 0): [number, number | null][] => {
  let now = start;
  return gaps.map(([dt, v]) => [(now += dt), v]);
};

t.test('property: for any samples, raised and resolved strictly alternate', async () => {
  fc.assert(
    fc.property(ruleArb, samplesArb, (r, gaps) => {
      const changes = run(timed(gaps), r);
      changes.forEach(([, type], i) => {
        if (type !== (i % 2 === 0 ? 'alert_raised' : 'alert_resolved'))
          throw new Error(`change ${i} is ${type}`);
      });
    }),
  );
});

t.test('property: a value flapping inside the hysteresis band adds no alert', async () => {
  fc.assert(
    fc.property(
      ruleArb.filter((r) => r.clearAt < r.threshold),
      samplesArb,
      fc.array(
        fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.double({ min: 0, max: 1, noNaN: true })),
        {
          minLength: 1,
          maxLength: 100,
        },
      ),
      (r, prefix, flapping) => {
        const head = timed(prefix);
        const start = head.length === 0 ? 0 : (head[head.length - 1]?.[0] ?? 0);
        // Inside the band: over the clear level, at most the threshold.
        const band = flapping.map(([dt, f]): [number, number] => [
          dt,
          Math.max(r.clearAt + (r.threshold - r.clearAt) * f, r.clearAt + 1e-9),
        ]);
        const before = run(head, r).length;
        const after = run([...head, ...timed(band, start)], r).length;
        if (after !== before) throw new Error(`${after - before} alerts from in-band values`);
      },
    ),
  );
});

t.test(
  'property: a value crossing the threshold faster than the window is never raised',
  async () => {
    fc.assert(
      fc.property(
        ruleArb.filter((r) => r.forMs > 1),
        fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 200 }),
        (r, raw) => {
          // Each sample over the threshold is followed by one at or under it sooner than forMs.
          const samples: [number, number][] = [];
          let now = 0;
          raw.forEach((g, i) => {
            now += i % 2 === 0 ? g : Math.min(g, r.forMs - 1);
            samples.push([now, i % 2 === 0 ? r.threshold + 1 + g : r.threshold]);
          });
          if (run(samples, r).length !== 0) throw new Error('raised by a flapping value');
        },
      ),
    );
  },
);
