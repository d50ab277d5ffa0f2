/**
 * Room event batches for tests, in the shape the room service appends to
 * ROOM_EVENTS (`RoomEventBatch`, message id `batchMsgId`), written straight to the
 * stream.
 */
import {
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import type { Test } from 'tap';
import { encode } from '#shared/runtime/bus.js';
import type { Role, RoomStatus } from '#shared/wire/protocol.js';
import {
  batchMsgId,
  type RoomEvent,
  type RoomEventBatch,
  type RoomSettings,
} from '#shared/room/room.events.js';
import { ensureStream, roomEventsConfig } from '#shared/runtime/streams.js';
import { subjects } from '#shared/wire/subjects.js';
import { startNats } from './nats.js';

/** JetStream handles with ROOM_EVENTS in place. */
export async function roomEventsStream(
  nc: NatsConnection,
): Promise<{ js: JetStreamClient; jsm: JetStreamManager }> {
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, roomEventsConfig(1));
  return { js: jetstream(nc), jsm };
}

/** A nats-server of the test's own with ROOM_EVENTS in place; stopped when `t` ends. */
export async function natsWithRoomEvents(
  t: Test,
): Promise<{ nc: NatsConnection; js: JetStreamClient; jsm: JetStreamManager }> {
  const nats = await startNats();
  const nc = await connect(nats.connectOptions());
  t.teardown(async () => {
    await nc.close();
    await nats.stop();
  });
  return { nc, ...(await roomEventsStream(nc)) };
}

/** Appends a batch as the room service does; resolves with its ROOM_EVENTS sequence. */
export async function appendBatch(
  js: JetStreamClient,
  batch: RoomEventBatch,
  msgId: string = batchMsgId(batch.roomId, batch.seq, 'test'),
): Promise<number> {
  const ack = await js.publish(subjects.roomEvents(batch.roomId), encode(batch), { msgID: msgId });
  return ack.seq;
}

/**
 * Writes one room's history as batches, with sequences numbered like the room
 * service does. Events are valid facts about the room (members that exist, the
 * lifecycle in order), which is all the projection relies on.
 */
export class RoomScript {
  private seq = 0;
  private readonly members = new Map<string, Role>();
  private peerCount = 0;
  status: RoomStatus = 'preparing';
  /** Every event so far, in order: what a replay of the room reads. */
  readonly events: RoomEvent[] = [];

  constructor(
    readonly roomId: string,
    readonly ownerId: string,
    private clock: number,
  ) {}

  private batch(events: RoomEvent[]): RoomEventBatch {
    const b: RoomEventBatch = { v: 1, roomId: this.roomId, seq: this.seq + 1, events };
    this.seq += events.length;
    this.events.push(...events);
    return b;
  }

  private at(): number {
    return (this.clock += 1000);
  }

  get peers(): string[] {
    return [...this.members.keys()];
  }

  create(settings: Partial<RoomSettings> = {}): RoomEventBatch {
    return this.batch([
      {
        type: 'room_created',
        v: 1,
        at: this.clock,
        roomId: this.roomId,
        ownerId: this.ownerId,
        settings: { title: `Room ${this.roomId}`, isPrivate: false, maxViewers: 100, ...settings },
        streamKey: `key-${this.roomId}`,
      },
    ]);
  }

  join(role: Role, userId = `u${this.peerCount}`): RoomEventBatch {
    const peerId = `${this.roomId}-p${++this.peerCount}`;
    this.members.set(peerId, role);
    const at = this.at();
    const joined: RoomEvent = {
      type: 'member_joined',
      v: 1,
      at,
      peerId,
      userId,
      role,
      gateway: 'gw',
      conn: `gw:${this.peerCount}`,
      resumeHash: 'h',
    };
    if (role === 'viewer') return this.batch([joined]);
    return this.batch([
      joined,
      { type: 'publisher_granted', v: 1, at, publisher: { kind: 'peer', peerId, userId } },
    ]);
  }

  leave(peerId: string, how: 'member_left' | 'member_timed_out' = 'member_left'): RoomEventBatch {
    this.members.delete(peerId);
    return this.batch([{ type: how, v: 1, at: this.at(), peerId }]);
  }

  kick(peerId: string): RoomEventBatch {
    this.members.delete(peerId);
    return this.batch([
      { type: 'member_kicked', v: 1, at: this.at(), peerId, by: this.ownerId, reason: 'test' },
    ]);
  }

  disconnect(peerId: string): RoomEventBatch {
    const at = this.at();
    return this.batch([
      { type: 'member_disconnected', v: 1, at, peerId, conn: 'c', awayUntil: at + 5000 },
    ]);
  }

  setStatus(to: RoomStatus): RoomEventBatch {
    const from = this.status;
    this.status = to;
    if (to === 'ended') this.members.clear();
    return this.batch([
      { type: 'status_changed', v: 1, at: this.at(), from, to, by: this.ownerId },
    ]);
  }
}

/** A small deterministic random source (tests must be repeatable). */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The next batch of a random but valid history for `room` (it must have been created). */
export function randomStep(room: RoomScript, rnd: () => number): RoomEventBatch | undefined {
  if (room.status === 'ended') return undefined;
  const peers = room.peers;
  const pick = () => peers[Math.floor(rnd() * peers.length)] as string;
  const r = rnd();
  if (r < 0.4 || peers.length === 0) return room.join(rnd() < 0.85 ? 'viewer' : 'publisher');
  if (r < 0.6) return room.leave(pick());
  if (r < 0.67) return room.leave(pick(), 'member_timed_out');
  if (r < 0.72) return room.kick(pick());
  if (r < 0.8) return room.disconnect(pick());
  if (r < 0.93 && room.status === 'preparing') return room.setStatus('live');
  if (r > 0.985) return room.setStatus('ended');
  return room.join('viewer');
}
