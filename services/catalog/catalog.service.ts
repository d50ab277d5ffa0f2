/**
 * The catalogue service: answers `catalog.query` (room lists, archived events)
 * from the store the projector feeds. Any number of them may run: they answer as
 * one queue group.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { Msg, Subscription } from '@nats-io/nats-core';
import type { Config } from '#config/config.js';
import { decode, type Bus } from '#shared/runtime/bus.js';
import type { CatalogQuery, CatalogReply, CatalogQueryType } from '#shared/room/catalog.js';
import { ErrorCode, RoomcastError, errorBody } from '#shared/wire/errors.js';
import type { Logger } from '#shared/runtime/log.js';
import type { LiveRoom } from '#shared/room/room.commands.js';
import { isSubjectToken, subjects } from '#shared/wire/subjects.js';
import { JetStreamCatalogStore } from './catalog.jetstream.js';
import { MongoCatalogStore } from './catalog.mongodb.js';
import { CatalogProjector } from './catalog.projector.js';
import { positionOf, type CatalogStore, type ListPosition } from './catalog.store.js';

/** A page cursor: the list position of the page's last room, opaque to clients. */
export function encodeCursor(p: ListPosition): string {
  return Buffer.from(JSON.stringify([p.createdAt, p.id])).toString('base64url');
}

/** Reads a cursor; throws BAD_FRAME for anything `encodeCursor` did not make. */
export function decodeCursor(cursor: string): ListPosition {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (
    Array.isArray(value) &&
    value.length === 2 &&
    Number.isSafeInteger(value[0]) &&
    typeof value[1] === 'string' &&
    isSubjectToken(value[1])
  ) {
    return { createdAt: value[0] as number, id: value[1] };
  }
  throw new RoomcastError(ErrorCode.BAD_FRAME, 'cursor: not a cursor this API gave out');
}

export interface CatalogServiceOptions {
  bus: Bus;
  store: CatalogStore;
  config: Config['catalog'];
  log: Logger;
}

type AnyCatalogReply = CatalogReply<CatalogQueryType>;

export class CatalogService {
  private sub: Subscription | undefined;

  constructor(private readonly o: CatalogServiceOptions) {}

  start(): void {
    this.sub = this.o.bus.subscribe(subjects.catalogQuery, (msg) => this.onQuery(msg), {
      queue: 'catalog',
    });
  }

  stop(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
  }

  private onQuery(msg: Msg): void {
    let query: CatalogQuery;
    try {
      query = decode<CatalogQuery>(msg.data);
    } catch {
      this.o.bus.respond(msg, {
        ok: false,
        error: errorBody(ErrorCode.BAD_FRAME, 'query is not JSON'),
      });
      return;
    }
    void this.handle(query).then((reply) => this.o.bus.respond(msg, reply));
  }

  /** Answers one query; never rejects. */
  async handle(query: CatalogQuery): Promise<AnyCatalogReply> {
    try {
      switch (query.type) {
        case 'list_rooms':
          return await this.listRooms(query);
        case 'room_events': {
          const limit = Math.min(Math.max(1, query.limit), this.o.config.pageSizeMax);
          const events = await this.o.store.readEvents(query.roomId, query.fromSeq, limit);
          return { ok: true, events };
        }
        default:
          return { ok: false, error: errorBody(ErrorCode.BAD_FRAME, 'unknown catalogue query') };
      }
    } catch (err) {
      if (err instanceof RoomcastError) return { ok: false, error: err.toBody() };
      this.o.log.error('catalogue query failed', { err });
      return { ok: false, error: errorBody(ErrorCode.UNAVAILABLE, 'the catalogue store failed') };
    }
  }

  private async listRooms(
    q: Extract<CatalogQuery, { type: 'list_rooms' }>,
  ): Promise<CatalogReply<'list_rooms'>> {
    const page = await this.o.store.listRooms({
      viewer: q.viewer,
      ...(q.status === undefined ? {} : { status: q.status }),
      ...(q.owner === undefined ? {} : { owner: q.owner }),
      limit: Math.min(Math.max(1, q.limit), this.o.config.pageSizeMax),
      ...(q.cursor === undefined ? {} : { after: decodeCursor(q.cursor) }),
    });
    const rooms = page.rooms.map(({ streamKey, ...room }): LiveRoom =>
      room.userId === q.viewer.userId ? { ...room, streamKey } : room,
    );
    const last = rooms.at(-1);
    return {
      ok: true,
      rooms,
      nextCursor: page.more && last !== undefined ? encodeCursor(positionOf(last)) : null,
    };
  }
}

/** The parts of the configuration the catalogue reads. */
export type CatalogConfig = Pick<Config, 'catalog' | 'nats'>;

/** Opens the configured store: MongoDB when MONGODB_URI is set, JetStream KV otherwise. */
export async function openCatalogStore(
  bus: Bus,
  config: CatalogConfig,
  log: Logger,
): Promise<CatalogStore> {
  const { catalog } = config;
  if (catalog.mongodbUri !== undefined) {
    return MongoCatalogStore.open({
      uri: catalog.mongodbUri,
      dbName: catalog.mongodbDb,
      serverSelectionTimeoutMs: catalog.mongodbTimeoutMs,
    });
  }
  return JetStreamCatalogStore.open({
    js: jetstream(bus.nc),
    jsm: await jetstreamManager(bus.nc),
    replicas: config.nats.replicas,
    log,
  });
}

/** A projector for `store` on `bus`. */
export async function catalogProjector(
  bus: Bus,
  store: CatalogStore,
  config: CatalogConfig,
  log: Logger,
): Promise<CatalogProjector> {
  return new CatalogProjector({
    js: jetstream(bus.nc),
    jsm: await jetstreamManager(bus.nc),
    store,
    config: config.catalog,
    replicas: config.nats.replicas,
    log,
  });
}

/** A running catalogue: store, projector and query service. */
export interface Catalog {
  store: CatalogStore;
  projector: CatalogProjector;
  service: CatalogService;
  stop(): Promise<void>;
}

/** Starts the catalogue on `bus`: the projector follows ROOM_EVENTS, the service answers queries. */
export async function startCatalog(o: {
  bus: Bus;
  config: CatalogConfig;
  log: Logger;
  store?: CatalogStore;
}): Promise<Catalog> {
  const store = o.store ?? (await openCatalogStore(o.bus, o.config, o.log));
  const projector = await catalogProjector(o.bus, store, o.config, o.log);
  await projector.start();
  const service = new CatalogService({
    bus: o.bus,
    store,
    config: o.config.catalog,
    log: o.log,
  });
  service.start();
  return {
    store,
    projector,
    service,
    async stop() {
      service.stop();
      await projector.stop();
      await store.close();
    },
  };
}
