/**
 * Preloaded (`node --import`) into the server under test by the benchmark; the
 * server's own code is not changed.
 *
 * - On SIGUSR2 it runs V8's memory-reducing collection (what a low-memory
 *   notification does: a full GC that also gives back the young generation grown
 *   during a burst) and prints the memory as one JSON line on stderr
 *   (`{"bench":"memory",...}`), so the idle scenario can tell what connections
 *   hold from garbage and heap slack their set-up left behind. A plain `gc()`
 *   keeps the grown young generation, and whether V8 shrinks it on its own within
 *   a run depends on timers: the figure swung by several KB per connection.
 * - With BENCH_PROFILE_DIR set, it starts V8's sampling profiler through the
 *   inspector half a second after start and writes `<pid>.cpuprofile` there when
 *   the process exits. Why not `node --cpu-prof`: with it, uWebSockets.js closed
 *   every connection upgraded asynchronously (after the token check) right after
 *   its 101 response; the profiled runs authenticate with an `auth` frame instead.
 */
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

let gcSession: Session | undefined;
process.on('SIGUSR2', () => {
  if (gcSession === undefined) {
    gcSession = new Session();
    gcSession.connect();
  }
  gcSession.post('HeapProfiler.collectGarbage', (err) => {
    const m = process.memoryUsage();
    process.stderr.write(
      JSON.stringify({
        bench: 'memory',
        gc: err === null,
        rss: m.rss,
        heapUsed: m.heapUsed,
        heapTotal: m.heapTotal,
        external: m.external,
        arrayBuffers: m.arrayBuffers,
      }) + '\n',
    );
  });
});

const dir = process.env.BENCH_PROFILE_DIR;
if (dir !== undefined && dir !== '') {
  const session = new Session();
  session.connect();
  let started = false;
  const interval = Number(process.env.BENCH_PROFILE_INTERVAL_US ?? 200);
  setTimeout(() => {
    session.post('Profiler.enable', () => {
      session.post('Profiler.setSamplingInterval', { interval }, () => {
        session.post('Profiler.start', () => {
          started = true;
        });
      });
    });
  }, 500).unref();
  // The main-thread session answers synchronously, so this works inside 'exit'.
  process.on('exit', () => {
    if (!started) return;
    session.post('Profiler.stop', (err, result) => {
      if (err === null)
        writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
