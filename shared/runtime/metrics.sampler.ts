import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Metrics } from './metrics.registry.js';

/**
 * Event-loop delay, memory and CPU, sampled into the registry. Percentiles and
 * CPU utilization cover the time since the previous sample.
 */
export class ProcessSampler {
  private readonly delay: IntervalHistogram;
  private lastCpu = process.cpuUsage();
  private lastAt: number;

  private readonly resolutionS: number;

  constructor(
    private readonly metrics: Metrics,
    resolutionMs: number,
    private readonly clock: () => number = performance.now.bind(performance),
  ) {
    this.resolutionS = resolutionMs / 1000;
    this.delay = monitorEventLoopDelay({ resolution: resolutionMs });
    this.delay.enable();
    this.lastAt = clock();
  }

  sample(): void {
    const m = this.metrics;
    // The monitor measures its own timer's period: an idle loop shows the resolution.
    // Before its first tick the histogram holds nothing (NaN).
    const lag = (ns: number) =>
      this.delay.count > 0 ? Math.max(0, ns * 1e-9 - this.resolutionS) : 0;
    m.eventLoopLag.set(lag(this.delay.percentile(50)), { stat: 'p50' });
    m.eventLoopLag.set(lag(this.delay.percentile(99)), { stat: 'p99' });
    m.eventLoopLag.set(lag(this.delay.max), { stat: 'max' });
    this.delay.reset();
    const mem = process.memoryUsage();
    m.residentMemory.set(mem.rss);
    m.heapUsed.set(mem.heapUsed);
    m.heapTotal.set(mem.heapTotal);
    m.externalMemory.set(mem.external);
    const now = this.clock();
    const cpu = process.cpuUsage();
    const usedUs = cpu.user - this.lastCpu.user + (cpu.system - this.lastCpu.system);
    m.cpuSeconds.add(usedUs / 1e6);
    const wallMs = now - this.lastAt;
    if (wallMs > 0) m.cpuUtilization.set(usedUs / 1000 / wallMs);
    this.lastCpu = cpu;
    this.lastAt = now;
  }

  stop(): void {
    this.delay.disable();
  }
}
