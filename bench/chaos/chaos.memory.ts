/**
 * What a soak's services say their memory is made of: the V8 heap in use and
 * reserved, and Buffers outside it, from the metric events every service publishes
 * (`metric.<service>.<name>`). Beside the resident size each minute, it tells a
 * growing heap (ours to find) from a resident size that grows with neither (the
 * allocator's).
 */
import type { Subscription } from '@nats-io/nats-core';
import { decode, type Bus } from '#shared/runtime/bus.js';
import type { MetricEvent } from '#shared/runtime/metrics.events.js';
import { instrumentSpecs } from '#shared/runtime/metrics.specs.js';
import { subjects } from '#shared/wire/subjects.js';

const PARTS = {
  heap: instrumentSpecs.heapUsed.name,
  of: instrumentSpecs.heapTotal.name,
  buffers: instrumentSpecs.externalMemory.name,
} as const;
type Part = keyof typeof PARTS;

export class MemoryParts {
  /** The latest figures of each instance. */
  private readonly latest = new Map<string, Partial<Record<Part, number>>>();
  private readonly subs: Subscription[];

  constructor(bus: Bus) {
    this.subs = (Object.keys(PARTS) as Part[]).map((part) =>
      bus.subscribe(subjects.metric('*', PARTS[part]), (msg) => {
        const e = decode<MetricEvent>(msg.data);
        const value = e.points[0]?.value;
        if (typeof value !== 'number') return;
        this.latest.set(e.instance, { ...this.latest.get(e.instance), [part]: value });
      }),
    );
  }

  /**
   * `heap 23/41 MB, buffers 3 MB` for the process named `label` (room replicas and
   * gateways are) or whose instance is host-`pid` (the others), or '' before its
   * first sample.
   */
  of(label: string, pid: number): string {
    const p =
      this.latest.get(label) ??
      [...this.latest].find(([instance]) => instance.endsWith(`-${String(pid)}`))?.[1];
    if (p?.heap === undefined || p.of === undefined || p.buffers === undefined) return '';
    const mb = (n: number) => (n / 2 ** 20).toFixed(0);
    return `heap ${mb(p.heap)}/${mb(p.of)} MB, buffers ${mb(p.buffers)} MB`;
  }

  close(): void {
    for (const s of this.subs) s.unsubscribe();
  }
}
