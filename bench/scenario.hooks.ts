/**
 * Benchmark: SRS hook answers per second and their latency, with the room service
 * behind the stream service, as in production: nats-server, the room service and
 * the stream service each in their own process (their real main.ts), the SRS API
 * played by the stand-in (it answers the confirmations and reconcile rounds).
 *
 * Load: a fixed rate of callbacks (open loop, 1,000/s by default), latency measured
 * from when each callback was due, so a server that falls behind is not flattered.
 * The mix is what a busy SRS posts: players coming and going (on_play / on_stop)
 * over many rooms, and encoders reconnecting (on_unpublish, then on_publish) now
 * and then. Then a closed-loop run finds the most answers per second.
 *
 * Plug into bench/run.ts: `hooksScenario` has the `{ name, run(ctx) }` shape of a
 * scenario and returns a section (title, tables, notes, goals, data).
 * CLI: `node --conditions=roomcast-source --import tsx bench/scenario.hooks.ts [--rate 1000]
 * [--duration 10] [--rounds 3] [--rooms 200] [--connections 16] [--saturate 5]
 * [--profile DIR] [--quick] [VAR=value ...]` (VAR=value: config of the services under
 * test), or `node dist/bench/scenario.hooks.js` after a build.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Bus } from '#shared/runtime/bus.js';
import { createLogger } from '#shared/runtime/log.js';
import { RoomClient, RoomRefusedError } from '#shared/room/room.client.js';
import { freePort } from '../test/helpers/net.js';
import { startNats, type NatsServer } from '../test/helpers/nats.js';
import { SrsStandIn } from '../test/srs/srs.standin.js';

export interface HookBenchOptions {
  /** Callbacks offered per second. Defaults to 1000. */
  rate?: number;
  /** Measured seconds per round. Defaults to 10 (3 with `quick`). */
  durationS?: number;
  /** Unmeasured seconds before each round. Defaults to 2 (1 with `quick`). */
  warmupS?: number;
  /** Rounds; the figures reported are their medians. Defaults to 3 (1 with `quick`). */
  rounds?: number;
  /** Rooms the callbacks spread over. Defaults to 200. */
  rooms?: number;
  /** Players kept per room on average. Defaults to 20. */
  viewersPerRoom?: number;
  /** Keep-alive connections to the hook endpoint (SRS keeps several). Defaults to 16. */
  connections?: number;
  /** Seconds of the closed-loop (saturation) run; 0 skips it. Defaults to 5 (2 with `quick`). */
  saturateS?: number;
  quick?: boolean;
  /** Where the room and stream services write CPU profiles (`--cpu-prof`); none when unset. */
  profileDir?: string;
  /** Extra environment of the room and stream services (config overrides). */
  env?: Record<string, string>;
  log?: (msg: string) => void;
}

/** Latency figures of one run, in ms. */
export interface Latency {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface RoundResult {
  offeredPerS: number;
  answeredPerS: number;
  latencyMs: Latency;
  allowed: number;
  denied: number;
  failed: number;
  /** CPU used per process during the round, in % of one core. */
  cpuPercent: { stream: number; room: number; nats: number; loader: number };
  /**
   * CPU the rest of the machine used meanwhile (other users of a shared machine, and
   * the SRS stand-in), in % of one core: the noise in this round's figures.
   */
  othersPercent: number;
}

export interface HookBenchResult {
  rate: number;
  durationS: number;
  rounds: RoundResult[];
  /** Medians over the rounds. */
  median: { answeredPerS: number; p50: number; p99: number; max: number };
  saturation: { answeredPerS: number; latencyMs: Latency; connections: number } | null;
  /** Load average of the machine at the end (a shared machine's noise is in every figure). */
  loadAverage: string;
  goal: { what: string; met: boolean };
}

const HOOK_SECRET = 'bench-hook-secret-0123456789abcdef';
const here = import.meta.url;
const ext = here.endsWith('.ts') ? '.ts' : '.js';
const mainOf = (service: string) =>
  fileURLToPath(new URL(`../services/${service}/main${ext}`, here));

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function latency(values: number[]): Latency {
  const s = values.sort((a, b) => a - b);
  return {
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    max: s.at(-1) ?? Number.NaN,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
};

/** Busy CPU seconds of the whole machine (all cores), from /proc/stat. */
function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return (total - (v[3] ?? 0) - (v[4] ?? 0)) / 100;
}

/** CPU seconds a process has used (all threads), from /proc. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

function launch(
  service: string,
  env: NodeJS.ProcessEnv,
  profileDir: string | undefined,
): ChildProcess {
  const profile = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  const child = spawn(process.execPath, [...process.execArgv, ...profile, mainOf(service)], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr.on('data', (d: Buffer) => {
    const line = d.toString();
    if (/"level":"(error|warn)"/.test(line)) process.stderr.write(`[${service}] ${line}`);
  });
  return child;
}

/** What the load generator tells the SRS stand-in, so that SRS's API agrees with the hooks. */
type SrsOp =
  | { op: 'register'; name: string; clientId: string; type: 'fmle-publish' | 'rtmp-play' }
  | { op: 'disconnect'; clientId: string };

/** The SRS stand-in in a process of its own (SRS is not in the loader's event loop either). */
async function runStandIn(): Promise<void> {
  const srs = new SrsStandIn({ hookBase: 'http://127.0.0.1:1/unused' });
  srs.bypassHooks = true;
  await srs.start();
  process.on('message', (m: SrsOp) => {
    if (m.op === 'register') srs.register(m.name, m.clientId, m.type);
    else srs.disconnect(m.clientId);
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ apiUrl: srs.apiUrl, serverId: srs.serverId, serviceId: srs.serviceId });
}

/** The system under test: nats-server, room service, stream service, the SRS stand-in. */
interface Sut {
  nats: NatsServer;
  room: ChildProcess;
  stream: ChildProcess;
  srs: ChildProcess;
  srsIds: { serverId: string; serviceId: string };
  bus: Bus;
  hookUrl: { host: string; port: number; path: string };
  stop(): Promise<void>;
}

async function startSut(
  extraEnv: Record<string, string>,
  profileDir: string | undefined,
): Promise<Sut> {
  const nats = await startNats();
  // The load generator posts the hooks itself, on keep-alive connections; the stand-in
  // only keeps SRS's API in agreement with them.
  const srs = spawn(process.execPath, [...process.execArgv, fileURLToPath(here), '--srs-standin'], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const hello = await new Promise<{ apiUrl: string; serverId: string; serviceId: string }>(
    (resolve, reject) => {
      srs.once('message', (m) =>
        resolve(m as { apiUrl: string; serverId: string; serviceId: string }),
      );
      srs.once('exit', (code) => reject(new Error(`the SRS stand-in exited with ${String(code)}`)));
    },
  );
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    NATS_URL: nats.url,
    AUTH_JWT_SECRET: randomBytes(32).toString('base64url'),
    LOG_LEVEL: 'warn',
    METRICS_ENABLED: 'false',
    STREAM_HOST: '127.0.0.1',
    STREAM_PORT: String(port),
    STREAM_HOOK_SECRET: HOOK_SECRET,
    STREAM_SRS_API_URL: hello.apiUrl,
    ROOM_MAX_VIEWERS_LIMIT: '100000',
    ...extraEnv,
  };
  const room = launch('room', { ...env, ...nats.env('room') }, profileDir);
  const stream = launch('stream', { ...env, ...nats.env('stream') }, profileDir);
  const bus = await Bus.connect({
    ...nats.connectOptions(),
    name: 'bench-hooks',
    requestTimeoutMs: 5000,
    log: createLogger('bench', 'error'),
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (Date.now() > deadline) throw new Error('room or stream service did not start');
    // Any answer, a refusal too (no such room), means the room service is up.
    const roomUp = await new RoomClient(bus)
      .get('bench-probe', {}, { timeoutMs: 500 })
      .then(() => true)
      .catch((err: unknown) => err instanceof RoomRefusedError);
    const streamUp = await fetch(`http://127.0.0.1:${port}/healthz`)
      .then((r) => r.ok)
      .catch(() => false);
    if (roomUp && streamUp) break;
    await sleep(100);
  }
  return {
    nats,
    room,
    stream,
    srs,
    srsIds: { serverId: hello.serverId, serviceId: hello.serviceId },
    bus,
    hookUrl: { host: '127.0.0.1', port, path: `/api/srs/hooks/${HOOK_SECRET}/` },
    async stop() {
      await bus.close();
      for (const c of [stream, room, srs]) {
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGTERM');
        await Promise.race([exited, sleep(3000)]);
        c.kill('SIGKILL');
      }
      await nats.stop();
    },
  };
}

type Action = 'on_publish' | 'on_unpublish' | 'on_play' | 'on_stop';

/** Posts hooks on keep-alive connections, the way SRS does. */
class HookClient {
  private readonly agent: Agent;

  constructor(
    private readonly url: Sut['hookUrl'],
    connections: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: connections });
  }

  post(action: Action, body: string): Promise<{ ok: boolean; allowed: boolean }> {
    return new Promise((resolve) => {
      const req = request(
        {
          agent: this.agent,
          host: this.url.host,
          port: this.url.port,
          method: 'POST',
          path: this.url.path + action,
          headers: {
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(body),
            'User-Agent': 'SRS/6.0.157(Hang)',
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () =>
            resolve({ ok: res.statusCode === 200, allowed: text === '{"code":0}' }),
          );
        },
      );
      req.on('error', () => resolve({ ok: false, allowed: false }));
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The callbacks of a busy SRS over `rooms` rooms, as hook bodies, kept consistent with the stand-in. */
class Workload {
  private readonly rooms: {
    id: string;
    key: string;
    publisher: string | null;
    viewers: string[];
  }[] = [];
  private next = 0;
  private count = 0;
  private clientSeq = 0;

  constructor(
    private readonly srs: ChildProcess,
    private readonly ids: Sut['srsIds'],
    private readonly viewersPerRoom: number,
  ) {}

  add(id: string, key: string): void {
    this.rooms.push({ id, key, publisher: null, viewers: [] });
  }

  /** A callback due after the one just taken (an encoder's on_publish after its on_unpublish). */
  private queued: { action: Action; body: string } | undefined;

  /** The next callback to post. About one in 50 is part of an encoder reconnecting. */
  take(): { action: Action; body: string } {
    const queued = this.queued;
    if (queued !== undefined) {
      this.queued = undefined;
      return queued;
    }
    const room = this.rooms[this.next++ % this.rooms.length]!;
    this.count++;
    if (room.publisher === null || this.count % 50 === 0) return this.republish(room);
    const grow = room.viewers.length < this.viewersPerRoom / 2 || Math.random() < 0.5;
    if (grow && room.viewers.length < this.viewersPerRoom * 2) {
      const clientId = this.client(room.id, 'rtmp-play');
      room.viewers.push(clientId);
      return { action: 'on_play', body: this.body('on_play', room.id, clientId, '') };
    }
    const gone = room.viewers.shift() ?? '';
    this.tell({ op: 'disconnect', clientId: gone });
    return { action: 'on_stop', body: this.body('on_stop', room.id, gone, '') };
  }

  /** The encoder of `room` reconnects: on_unpublish of the old session, then on_publish. */
  private republish(room: (typeof this.rooms)[number]): { action: Action; body: string } {
    const param = `?key=${room.key}`;
    const old = room.publisher;
    room.publisher = this.client(room.id, 'fmle-publish', old);
    const publish = {
      action: 'on_publish' as const,
      body: this.body('on_publish', room.id, room.publisher, param),
    };
    if (old === null) return publish;
    this.queued = publish;
    return { action: 'on_unpublish', body: this.body('on_unpublish', room.id, old, param) };
  }

  /** A new SRS client (replacing `replaces`, whose connection SRS drops first). */
  private client(
    name: string,
    type: 'fmle-publish' | 'rtmp-play',
    replaces?: string | null,
  ): string {
    if (replaces != null) this.tell({ op: 'disconnect', clientId: replaces });
    const clientId = `b${(this.clientSeq++).toString(36)}`;
    this.tell({ op: 'register', name, clientId, type });
    return clientId;
  }

  private tell(op: SrsOp): void {
    this.srs.send(op);
  }

  private body(action: Action, stream: string, clientId: string, param: string): string {
    return JSON.stringify({
      server_id: this.ids.serverId,
      service_id: this.ids.serviceId,
      action,
      client_id: clientId,
      ip: '127.0.0.1',
      vhost: '__defaultVhost__',
      app: 'live',
      tcUrl: 'rtmp://127.0.0.1:1935/live',
      stream,
      param,
      stream_url: `/live/${stream}`,
      stream_id: `vid-${stream}`,
    });
  }
}

/** Offers `rate` callbacks/s for `seconds`; latency counted from when each was due. */
async function openLoop(
  client: HookClient,
  work: Workload,
  rate: number,
  seconds: number,
): Promise<{
  latencies: number[];
  allowed: number;
  denied: number;
  failed: number;
  answered: number;
  elapsedS: number;
}> {
  const latencies: number[] = [];
  let allowed = 0;
  let denied = 0;
  let failed = 0;
  const inflight = new Set<Promise<void>>();
  const start = performance.now();
  const total = Math.round(rate * seconds);
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
    while (sent < due) {
      const dueAt = start + (sent / rate) * 1000;
      sent++;
      const cb = work.take();
      const p = client.post(cb.action, cb.body).then((r) => {
        latencies.push(performance.now() - dueAt);
        if (!r.ok) failed++;
        else if (r.allowed) allowed++;
        else denied++;
      });
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    }
    await sleep(1);
  }
  await Promise.all(inflight);
  const elapsedS = (performance.now() - start) / 1000;
  return { latencies, allowed, denied, failed, answered: latencies.length, elapsedS };
}

/** `connections` callers posting back to back: the most answers per second. */
async function closedLoop(
  client: HookClient,
  work: Workload,
  connections: number,
  seconds: number,
) {
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        const cb = work.take();
        const at = performance.now();
        await client.post(cb.action, cb.body);
        latencies.push(performance.now() - at);
      }
    }),
  );
  return {
    answeredPerS: latencies.length / ((performance.now() - t0) / 1000),
    latencyMs: latency(latencies),
  };
}

/** Runs the benchmark; see `HookBenchOptions` for the knobs. */
export async function run(options: HookBenchOptions = {}): Promise<HookBenchResult> {
  const quick = options.quick ?? false;
  const rate = options.rate ?? 1000;
  const durationS = options.durationS ?? (quick ? 3 : 10);
  const warmupS = options.warmupS ?? (quick ? 1 : 2);
  const roundsN = options.rounds ?? (quick ? 1 : 3);
  const roomsN = options.rooms ?? 200;
  const connections = options.connections ?? 16;
  const saturateS = options.saturateS ?? (quick ? 2 : 5);
  const log = options.log ?? ((m: string) => process.stderr.write(`[hooks] ${m}\n`));

  log(`starting nats-server, room service, stream service`);
  const sut = await startSut(options.env ?? {}, options.profileDir);
  const client = new HookClient(sut.hookUrl, connections);
  try {
    const work = new Workload(sut.srs, sut.srsIds, options.viewersPerRoom ?? 20);
    const rooms = new RoomClient(sut.bus);
    for (let i = 0; i < roomsN; i++) {
      const id = `bench-${i}`;
      const r = await rooms
        .create(id, { userId: 'bench', title: id, isPrivate: false, maxViewers: 100_000 })
        .catch((err: unknown) => {
          throw err instanceof RoomRefusedError ? new Error(`create ${id} failed`) : err;
        });
      work.add(id, r.room.streamKey ?? '');
    }
    const rounds: RoundResult[] = [];
    for (let round = 0; round < roundsN; round++) {
      log(`round ${round + 1}/${roundsN}: warm-up ${warmupS} s, then ${rate}/s for ${durationS} s`);
      await openLoop(client, work, rate, warmupS);
      const pids = { stream: sut.stream.pid, room: sut.room.pid, nats: sut.nats.process.pid };
      const before = {
        stream: cpuSeconds(pids.stream),
        room: cpuSeconds(pids.room),
        nats: cpuSeconds(pids.nats),
        loader: process.cpuUsage(),
        machine: machineBusySeconds(),
      };
      const r = await openLoop(client, work, rate, durationS);
      const pct = (s: number) => Math.round((s / r.elapsedS) * 1000) / 10;
      const loader = process.cpuUsage(before.loader);
      const used = {
        stream: cpuSeconds(pids.stream) - before.stream,
        room: cpuSeconds(pids.room) - before.room,
        nats: cpuSeconds(pids.nats) - before.nats,
        loader: (loader.user + loader.system) / 1e6,
      };
      const ours = used.stream + used.room + used.nats + used.loader;
      rounds.push({
        offeredPerS: rate,
        answeredPerS: r.answered / r.elapsedS,
        latencyMs: latency(r.latencies),
        allowed: r.allowed,
        denied: r.denied,
        failed: r.failed,
        cpuPercent: {
          stream: pct(used.stream),
          room: pct(used.room),
          nats: pct(used.nats),
          loader: pct(used.loader),
        },
        othersPercent: pct(Math.max(0, machineBusySeconds() - before.machine - ours)),
      });
      const last = rounds.at(-1)!;
      log(
        `  ${last.answeredPerS.toFixed(0)} answers/s, p50 ${last.latencyMs.p50.toFixed(2)} ms, ` +
          `p99 ${last.latencyMs.p99.toFixed(2)} ms, max ${last.latencyMs.max.toFixed(1)} ms ` +
          `(others on the machine: ${last.othersPercent.toFixed(0)}% of a core)`,
      );
    }
    let saturation: HookBenchResult['saturation'] = null;
    if (saturateS > 0) {
      log(`closed loop: ${connections} connections for ${saturateS} s`);
      saturation = { ...(await closedLoop(client, work, connections, saturateS)), connections };
      log(`  ${saturation.answeredPerS.toFixed(0)} answers/s at most`);
    }
    const p99 = median(rounds.map((r) => r.latencyMs.p99));
    return {
      rate,
      durationS,
      rounds,
      median: {
        answeredPerS: median(rounds.map((r) => r.answeredPerS)),
        p50: median(rounds.map((r) => r.latencyMs.p50)),
        p99,
        max: median(rounds.map((r) => r.latencyMs.max)),
      },
      saturation,
      loadAverage: loadavg()
        .map((x) => x.toFixed(2))
        .join(' '),
      goal: { what: `p99 < 10 ms at ${rate} callbacks/s`, met: p99 < 10 },
    };
  } finally {
    client.close();
    await sut.stop();
  }
}

const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');

/** The result as a bench/run.ts section: tables, notes, goals and the raw data. */
export function section(r: HookBenchResult) {
  return {
    title: 'SRS hook answers (stream service with the room service behind it)',
    tables: [
      {
        title: `Open loop, ${r.rate} callbacks/s offered, ${r.durationS} s per round`,
        head: [
          'round',
          'answers/s',
          'p50 ms',
          'p90 ms',
          'p99 ms',
          'max ms',
          'denied',
          'failed',
          'CPU % stream / room / nats / loader',
          'CPU % others',
        ],
        rows: r.rounds.map((x, i) => [
          String(i + 1),
          f(x.answeredPerS, 0),
          f(x.latencyMs.p50, 2),
          f(x.latencyMs.p90, 2),
          f(x.latencyMs.p99, 2),
          f(x.latencyMs.max),
          String(x.denied),
          String(x.failed),
          `${f(x.cpuPercent.stream)} / ${f(x.cpuPercent.room)} / ${f(x.cpuPercent.nats)} / ${f(x.cpuPercent.loader)}`,
          f(x.othersPercent),
        ]),
      },
      ...(r.saturation === null
        ? []
        : [
            {
              title: `Closed loop, ${r.saturation.connections} connections`,
              head: ['answers/s', 'p50 ms', 'p99 ms', 'max ms'],
              rows: [
                [
                  f(r.saturation.answeredPerS, 0),
                  f(r.saturation.latencyMs.p50, 2),
                  f(r.saturation.latencyMs.p99, 2),
                  f(r.saturation.latencyMs.max),
                ],
              ],
            },
          ]),
    ],
    notes: [
      'Latency is counted from when each callback was due (open loop), on keep-alive connections like SRS uses.',
      'Mix: on_play/on_stop over many rooms, an encoder reconnect (on_unpublish + on_publish) every 50th callback.',
      `Load average at the end: ${r.loadAverage} (a shared machine's noise is in every figure).`,
    ],
    goals: [
      {
        what: r.goal.what,
        measured: `${f(r.median.p99, 2)} ms (median of rounds)`,
        met: r.goal.met,
      },
    ],
    data: r,
  };
}

/** The scenario for bench/run.ts: `{ name, run(ctx) }`, where ctx has `quick` and `log`. */
export const hooksScenario = {
  name: 'hooks',
  async run(ctx: { quick: boolean; log: (msg: string) => void }) {
    return section(await run({ quick: ctx.quick, log: ctx.log }));
  },
};

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

const isMain =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain && process.argv.includes('--srs-standin')) {
  await runStandIn();
} else if (isMain) {
  const num = (name: string) => (arg(name) === undefined ? undefined : Number(arg(name)));
  const env = Object.fromEntries(
    process.argv
      .filter((a) => /^[A-Z_]+=/.test(a))
      .map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]),
  );
  const result = await run({
    quick: process.argv.includes('--quick'),
    env,
    ...(num('rate') === undefined ? {} : { rate: num('rate') }),
    ...(num('duration') === undefined ? {} : { durationS: num('duration') }),
    ...(num('rounds') === undefined ? {} : { rounds: num('rounds') }),
    ...(num('rooms') === undefined ? {} : { rooms: num('rooms') }),
    ...(num('connections') === undefined ? {} : { connections: num('connections') }),
    ...(num('saturate') === undefined ? {} : { saturateS: num('saturate') }),
    ...(arg('profile') === undefined ? {} : { profileDir: arg('profile') }),
  });
  process.stdout.write(JSON.stringify(section(result), null, 2) + '\n');
  process.exit(0);
}
