/**
 * The system `npm run chaos` breaks: a three-node NATS cluster (NATS_REPLICAS=3), two
 * room replicas, two gateway processes, the stream service with the SRS stand-in
 * hooking into it, and the catalogue; every one a real process that can be killed
 * with SIGKILL and started again on the same ports and identity.
 */
import type { Test } from 'tap';
import { SrsStandIn } from '../../test/srs/srs.standin.js';
import {
  startNatsCluster,
  type NatsCluster,
  type NatsNode,
} from '../../test/helpers/nats.cluster.js';
import { freePort } from '../../test/helpers/net.js';
import {
  startService,
  type ServiceName,
  type ServiceProcess,
} from '../../test/helpers/processes.js';
import { loadConfig } from '#config/config.js';
import { TEST_HOOK_SECRET, TEST_SECRET, testEnv } from '../../test/helpers/system.js';

/** What is killed in a round, in this order. */
export const KINDS = ['nats', 'room', 'gateway', 'stream'] as const;
export type Kind = (typeof KINDS)[number];

/** A service process and how to start it again as the same instance. */
export interface Member {
  label: string;
  kind: Exclude<Kind, 'nats'> | 'catalog';
  proc: ServiceProcess;
  /** Every incarnation so far, the current one last (their logged lines stay readable). */
  incarnations: ServiceProcess[];
  restart(): Promise<void>;
}

/**
 * Room leases in the chaos run: the default, so that the figures are the ones a
 * deployment sees. A dead replica's rooms move within this; a lease shorter than a NATS
 * leader election (4–9 s) lapses whenever the lease bucket's leader is the node killed.
 */
export const ROOM_LEASE_MS = loadConfig({ AUTH_JWT_SECRET: TEST_SECRET }).room.leaseMs;

export interface ChaosSystem {
  nats: NatsCluster;
  srs: SrsStandIn;
  members: Member[];
  /** The gateways' /signaling and REST bases, in `members` order. */
  gateways(): Member[];
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * `startService` wants a tap Test for its teardown only: outside tap, the run
 * collects them here and calls them at the end.
 */
class Teardowns {
  private readonly fns: (() => unknown)[] = [];
  teardown(fn: () => unknown): void {
    this.fns.push(fn);
  }
  async run(): Promise<void> {
    for (const fn of this.fns.reverse()) await fn();
  }
  asTest(): Test {
    return this as unknown as Test;
  }
}

export async function startChaosSystem(): Promise<ChaosSystem> {
  const teardowns = new Teardowns();
  const nats = await startNatsCluster(3);
  const srs = new SrsStandIn({ hookBase: 'http://127.0.0.1:1/unset', hookTimeoutMs: 5000 });
  await srs.start();
  const env = testEnv(nats.url, {
    NATS_REPLICAS: '3',
    ROOM_LEASE_MS: String(ROOM_LEASE_MS),
    ROOM_RESUME_GRACE_MS: '60000',
  });
  const members: Member[] = [];
  const add = async (label: string, kind: Member['kind'], own: Record<string, string>) => {
    const name: ServiceName = kind;
    const start = () => startService(teardowns.asTest(), name, { ...env, ...own }, 60_000);
    const first = await start();
    const member: Member = {
      label,
      kind,
      proc: first,
      incarnations: [first],
      async restart() {
        member.proc = await start();
        member.incarnations.push(member.proc);
      },
    };
    members.push(member);
  };
  await add('room-1', 'room', { ROOM_REPLICA_ID: 'room-1' });
  await add('room-2', 'room', { ROOM_REPLICA_ID: 'room-2' });
  // The run starts on a settled system: the first replica gives the second its share
  // within a renewal period. A replica joining is a hand-over of its own (a command
  // caught in it may time out), not one of the kills the run measures.
  await members.at(-1)?.proc.waitFor(/"msg":"partitions loaded"/, 30_000);
  // Each gateway starts on a NATS node of its own, so that relays between them cross a
  // route (interest reaches the other node late: gateway.signal.acks.ts); it learns the
  // other nodes from the cluster and moves to one when its own dies.
  for (const [i, label] of ['gateway-1', 'gateway-2'].entries())
    await add(label, 'gateway', {
      GATEWAY_ID: label,
      GATEWAY_PORT: String(await freePort()),
      NATS_URL: nats.urls[i] ?? nats.url,
    });
  const streamPort = await freePort();
  // The stream service as it ships: the tests' settings (streamTestEnv) switch its
  // reconcile rounds off (a test runs each one), and without them SRS counted as down
  // for the whole run and no publisher of an ended room was ever kicked.
  await add('stream', 'stream', {
    STREAM_HOOK_SECRET: TEST_HOOK_SECRET,
    STREAM_SRS_API_URL: srs.apiUrl,
    // The stand-in serves HLS, HTTP-FLV and WHIP/WHEP on its API's port (srs.media.ts).
    STREAM_PUBLIC_HTTP_URL: srs.apiUrl,
    STREAM_PUBLIC_RTC_URL: srs.apiUrl,
    STREAM_HOST: '127.0.0.1',
    STREAM_PORT: String(streamPort),
  });
  srs.hookBase = `http://127.0.0.1:${streamPort}/api/srs/hooks/${TEST_HOOK_SECRET}`;
  await add('catalog', 'catalog', {});
  return {
    nats,
    srs,
    members,
    env,
    gateways: () => members.filter((m) => m.kind === 'gateway'),
    async stop() {
      await teardowns.run();
      await srs.stop();
      await nats.stop();
    },
  };
}

/** The next victim of `kind` (round-robin over the instances of that kind). */
export function victimOf(
  sys: ChaosSystem,
  kind: Kind,
  round: number,
): { label: string; kill(): Promise<void>; restart(): Promise<void> } {
  if (kind === 'nats') {
    const node: NatsNode | undefined = sys.nats.nodes[round % sys.nats.nodes.length];
    if (node === undefined) throw new Error('no NATS node');
    return {
      label: `nats ${node.name}`,
      kill: () => node.kill(true),
      restart: () => node.restart(),
    };
  }
  const of = sys.members.filter((m) => m.kind === kind);
  const m = of[round % of.length];
  if (m === undefined) throw new Error(`no ${kind}`);
  return { label: m.label, kill: () => m.proc.signal('SIGKILL'), restart: () => m.restart() };
}
