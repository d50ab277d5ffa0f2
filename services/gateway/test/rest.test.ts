/**
 * The REST room API over a real gateway, room service, catalogue and nats-server:
 * requests as curl would send them (fetch), answers checked whole.
 */
import t, { type Test } from 'tap';
import { jetstreamManager } from '@nats-io/jetstream';
import { Bus } from '#shared/runtime/bus.js';
import { Credential } from '#shared/runtime/bus.permissions.js';
import type { GrantsClaim } from '#shared/auth/grants.js';
import { createLogger } from '#shared/runtime/log.js';
import type { LiveRoom } from '#shared/room/room.commands.js';
import { streamNames } from '#shared/runtime/streams.js';
import { startSystem, type System } from '../../../test/helpers/system.js';
import { startCatalog, type Catalog } from '../../catalog/catalog.service.js';
import { JetStreamRoomLog } from '../../room/room.log.js';

const log = createLogger('test', 'error');

interface Res {
  status: number;
  body: Record<string, unknown> & {
    room?: LiveRoom;
    rooms?: LiveRoom[];
    nextCursor?: string | null;
    error?: { code: string; message: string };
    status?: string;
  };
  headers: Headers;
}

interface Rest {
  sys: System;
  catalog: Catalog;
  base: string;
  /** A token for `sub`; everyone may create rooms unless `grants` says otherwise. */
  as(sub: string, grants?: GrantsClaim): Promise<string>;
  call(
    method: string,
    path: string,
    o?: { token?: string; json?: unknown; body?: string; headers?: Record<string, string> },
  ): Promise<Res>;
  /** Creates a room through the API (for a test's setup). */
  create(token: string, roomId: string, o?: { isPrivate?: boolean }): Promise<Res>;
  /** Waits until the catalogue has projected everything appended so far. */
  synced(): Promise<void>;
}

async function startRest(t: Test, env: Record<string, string> = {}): Promise<Rest> {
  // The room service with its durable log: its appends to ROOM_EVENTS feed the catalogue.
  const sys = await startSystem(t, env, {
    log: (bus) => JetStreamRoomLog.open(bus.nc, { writer: 'room', replicas: 1, timeoutMs: 2000 }),
  });
  const jsm = await jetstreamManager(sys.bus.nc);
  const bus = await Bus.connect({
    ...sys.nats.connectOptions(Credential.catalog),
    name: 'catalog',
    requestTimeoutMs: sys.config.nats.requestTimeoutMs,
    log,
  });
  const catalog = await startCatalog({ bus, config: sys.config, log });
  // Registered after the system's: runs before it (teardowns run last-in, first-out).
  t.teardown(async () => {
    await catalog.stop();
    await bus.close();
  });
  const base = `http://127.0.0.1:${sys.gateway.port}`;
  const call: Rest['call'] = async (method, path, o = {}) => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
    let body = o.body;
    if (o.json !== undefined) {
      body = JSON.stringify(o.json);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(base + path, { method, headers, body });
    const text = await res.text();
    return {
      status: res.status,
      body: (text === '' ? {} : JSON.parse(text)) as Res['body'],
      headers: res.headers,
    };
  };
  return {
    sys,
    catalog,
    base,
    as: (sub, grants = { create: true }) => sys.token(sub, grants),
    call,
    create: (token, roomId, o = {}) =>
      call('POST', '/api/rooms', {
        token,
        json: { roomId, title: `Room ${roomId}`, isPrivate: o.isPrivate ?? false },
      }),
    async synced() {
      const last = (await jsm.streams.info(streamNames.roomEvents)).state.last_seq;
      await catalog.projector.whenProjected(last);
    },
  };
}

const err = (r: Res) => [r.status, r.body.error?.code];

t.test('POST creates a room; GET shows the stream key to its owner only', async (t) => {
  const api = await startRest(t);
  const alice = await api.as('alice');
  const bob = await api.as('bob');

  const made = await api.call('POST', '/api/rooms', {
    token: alice,
    json: { title: 'Hello', isPrivate: false, maxViewers: 5 },
  });
  t.equal(made.status, 201);
  const room = made.body.room!;
  t.match(room.id, /^[A-Za-z0-9_-]{16}$/, 'an id is generated when none is given');
  t.equal(made.headers.get('location'), `/api/rooms/${room.id}`);
  t.equal(made.headers.get('content-type'), 'application/json');
  t.match(room, {
    userId: 'alice',
    title: 'Hello',
    status: 'preparing',
    isPrivate: false,
    streamKey: /^[A-Za-z0-9_-]{16,}$/,
    startTime: null,
    endTime: null,
    viewers: 0,
    maxViewers: 5,
    peakViewers: 0,
  });
  t.type(room.createdAt, 'number');

  const named = await api.call('POST', '/api/rooms', {
    token: alice,
    json: { roomId: 'r1', title: 'Named', isPrivate: false },
  });
  t.equal(named.status, 201);
  t.equal(named.body.room?.id, 'r1');
  t.equal(named.body.room?.maxViewers, api.sys.config.room.defaultMaxViewers, 'default capacity');

  const again = await api.call('POST', '/api/rooms', {
    token: bob,
    json: { roomId: 'r1', title: 'Mine now', isPrivate: true },
  });
  t.same(err(again), [409, 'ROOM_EXISTS']);

  const mine = await api.call('GET', '/api/rooms/r1', { token: alice });
  t.equal(mine.status, 200);
  t.same(mine.body, { room: named.body.room }, 'the owner sees the stream key');
  const theirs = await api.call('GET', '/api/rooms/r1', { token: bob });
  t.equal(theirs.status, 200);
  const { streamKey: _key, ...withoutKey } = named.body.room!;
  t.same(theirs.body, { room: withoutKey }, 'others do not');

  t.same(err(await api.call('GET', '/api/rooms/nope', { token: bob })), [404, 'ROOM_NOT_FOUND']);
  t.same(err(await api.call('GET', '/api/rooms/a.b%2A', { token: bob })), [404, 'ROOM_NOT_FOUND']);

  const noGrant = await api.call('POST', '/api/rooms', {
    token: await api.as('carol', {}),
    json: { title: 'x', isPrivate: false },
  });
  t.same(err(noGrant), [403, 'NOT_ALLOWED'], 'creating needs the create grant');
});

t.test('bad bodies are refused, naming the field at fault', async (t) => {
  const api = await startRest(t);
  const alice = await api.as('alice');
  const max = api.sys.config.gateway.maxBodyBytes;
  const titleMax = api.sys.config.room.maxTitleChars;
  const viewersMax = api.sys.config.room.maxViewersLimit;
  await api.create(alice, 'r1');

  const cases: {
    name: string;
    method?: string;
    path?: string;
    json?: unknown;
    /** Sent as is, as application/json. */
    raw?: string;
    body?: string;
    headers?: Record<string, string>;
    want: [number, string, RegExp];
  }[] = [
    {
      name: 'wrong type',
      json: { title: 5, isPrivate: false },
      want: [400, 'BAD_FRAME', /^title: Expected string/],
    },
    {
      name: 'wrong type (boolean)',
      json: { title: 'x', isPrivate: 'yes' },
      want: [400, 'BAD_FRAME', /^isPrivate: Expected boolean/],
    },
    {
      name: 'extra field',
      json: { roomId: 'x1', title: 'x', isPrivate: false, userId: 'mallory' },
      want: [400, 'BAD_FRAME', /^userId: unknown field$/],
    },
    {
      name: 'missing field',
      json: { isPrivate: false },
      want: [400, 'BAD_FRAME', /^title: required$/],
    },
    {
      name: 'missing isPrivate',
      json: { title: 'x' },
      want: [400, 'BAD_FRAME', /^isPrivate: required$/],
    },
    {
      name: 'empty title',
      json: { title: '', isPrivate: false },
      want: [400, 'BAD_FRAME', /^title: /],
    },
    {
      name: 'title too long',
      json: { title: 'x'.repeat(titleMax + 1), isPrivate: false },
      want: [400, 'BAD_FRAME', /^title: /],
    },
    {
      name: 'maxViewers 0',
      json: { title: 'x', isPrivate: false, maxViewers: 0 },
      want: [400, 'BAD_FRAME', /^maxViewers: /],
    },
    {
      name: 'maxViewers fraction',
      json: { title: 'x', isPrivate: false, maxViewers: 1.5 },
      want: [400, 'BAD_FRAME', /^maxViewers: Expected integer/],
    },
    {
      name: 'maxViewers over the limit',
      json: { title: 'x', isPrivate: false, maxViewers: viewersMax + 1 },
      want: [400, 'BAD_FRAME', /^maxViewers: /],
    },
    {
      name: 'roomId not a token',
      json: { roomId: 'a.b', title: 'x', isPrivate: false },
      want: [400, 'BAD_FRAME', /^roomId: /],
    },
    {
      name: 'not JSON',
      raw: '{"title": ',
      want: [400, 'BAD_JSON', /JSON/],
    },
    {
      name: 'empty body',
      raw: '',
      want: [400, 'BAD_JSON', /JSON/],
    },
    {
      name: 'JSON but not an object',
      json: [{ title: 'x', isPrivate: false }],
      want: [400, 'BAD_FRAME', /^body: must be a JSON object$/],
    },
    {
      name: 'JSON null',
      raw: 'null',
      want: [400, 'BAD_FRAME', /^body: /],
    },
    {
      name: 'wrong content-type',
      body: '{"title":"x","isPrivate":false}',
      headers: { 'content-type': 'text/plain' },
      want: [400, 'BAD_FRAME', /^content-type: /],
    },
    {
      name: 'no content-type',
      body: '{"title":"x","isPrivate":false}',
      want: [400, 'BAD_FRAME', /^content-type: /],
    },
    {
      name: 'oversize',
      json: { title: 'x', isPrivate: false, pad: 'p'.repeat(max) },
      want: [413, 'TOO_LARGE', new RegExp(`${max} bytes`)],
    },
    {
      name: 'PUT: unknown status',
      method: 'PUT',
      path: '/api/rooms/r1',
      json: { status: 'paused' },
      want: [400, 'BAD_FRAME', /^status: one of preparing, live, ended$/],
    },
    {
      name: 'PUT: missing status',
      method: 'PUT',
      path: '/api/rooms/r1',
      json: {},
      want: [400, 'BAD_FRAME', /^status: required$/],
    },
    {
      name: 'PUT: extra field',
      method: 'PUT',
      path: '/api/rooms/r1',
      json: { status: 'live', title: 'x' },
      want: [400, 'BAD_FRAME', /^title: unknown field$/],
    },
    {
      name: 'PUT: not JSON',
      method: 'PUT',
      path: '/api/rooms/r1',
      raw: 'live',
      want: [400, 'BAD_JSON', /JSON/],
    },
    {
      name: 'PUT: oversize',
      method: 'PUT',
      path: '/api/rooms/r1',
      json: { status: 'x'.repeat(max) },
      want: [413, 'TOO_LARGE', /bytes/],
    },
  ];
  for (const c of cases) {
    const r = await api.call(c.method ?? 'POST', c.path ?? '/api/rooms', {
      token: alice,
      ...(c.json === undefined ? {} : { json: c.json }),
      ...(c.body === undefined ? {} : { body: c.body }),
      ...(c.headers === undefined ? {} : { headers: c.headers }),
      ...(c.raw === undefined
        ? {}
        : { body: c.raw, headers: { 'content-type': 'application/json' } }),
    });
    t.same(err(r), c.want.slice(0, 2), c.name);
    t.match(r.body.error?.message, c.want[2], `${c.name}: ${r.body.error?.message ?? ''}`);
  }
  t.same(
    err(await api.call('GET', '/api/rooms/x1', { token: alice })),
    [404, 'ROOM_NOT_FOUND'],
    'nothing was created',
  );
  t.equal(
    (await api.call('GET', '/api/rooms/r1', { token: alice })).body.room?.status,
    'preparing',
    'nothing changed',
  );
});

t.test('authentication: a bearer token on every endpoint', async (t) => {
  const api = await startRest(t);
  const expired = await api.sys.token('alice', { create: true }, { ttlS: -60 });
  const endpoints: [string, string, unknown?][] = [
    ['POST', '/api/rooms', { title: 'x', isPrivate: false }],
    ['GET', '/api/rooms'],
    ['GET', '/api/rooms/r1'],
    ['PUT', '/api/rooms/r1', { status: 'live' }],
    ['DELETE', '/api/rooms/r1'],
  ];
  for (const [method, path, json] of endpoints) {
    const o = json === undefined ? {} : { json };
    t.same(
      err(await api.call(method, path, o)),
      [401, 'AUTH_REQUIRED'],
      `${method} ${path}: no token`,
    );
    t.same(
      err(await api.call(method, path, { ...o, token: 'not.a.jwt' })),
      [401, 'TOKEN_INVALID'],
      `${method} ${path}: forged`,
    );
    t.same(
      err(await api.call(method, path, { ...o, token: expired })),
      [401, 'TOKEN_EXPIRED'],
      `${method} ${path}: expired`,
    );
  }
});

t.test('PUT walks the lifecycle; anything else is 409 with the current status', async (t) => {
  const api = await startRest(t);
  const alice = await api.as('alice');
  const put = (id: string, status: string, token = alice) =>
    api.call('PUT', `/api/rooms/${id}`, { token, json: { status } });
  await api.create(alice, 'r1');
  await api.create(alice, 'r2');

  // A member on the WebSocket hears what the REST API did.
  const viewer = await api.sys.client('bob');
  await viewer.call({ type: 'join', room: 'r1', role: 'viewer' });

  const conflict = async (id: string, to: string, current: string) => {
    const r = await put(id, to);
    t.same(
      [r.status, r.body.error?.code, r.body.status],
      [409, 'INVALID_TRANSITION', current],
      `${current} → ${to}`,
    );
    t.match(r.body.error?.message, current);
  };
  await conflict('r1', 'preparing', 'preparing');
  const live = await put('r1', 'live');
  t.equal(live.status, 200);
  t.match(live.body.room, {
    id: 'r1',
    status: 'live',
    startTime: Number,
    endTime: null,
    viewers: 1,
  });
  t.type(live.body.room?.streamKey, 'string', 'the owner gets the stream key back');
  t.equal((await viewer.nextOf('room_status')).status, 'live');
  const still = await put('r1', 'live');
  t.same(
    [still.status, still.body.room?.startTime],
    [200, live.body.room?.startTime],
    'live → live changes nothing',
  );
  await conflict('r1', 'preparing', 'live');
  const ended = await put('r1', 'ended');
  t.match([ended.status, ended.body.room], [200, { status: 'ended', endTime: Number, viewers: 0 }]);
  t.equal((await viewer.nextOf('room_status')).status, 'ended');
  await conflict('r1', 'live', 'ended');
  await conflict('r1', 'ended', 'ended');
  await conflict('r1', 'preparing', 'ended');

  const cancelled = await put('r2', 'ended');
  t.match(
    [cancelled.status, cancelled.body.room],
    [200, { status: 'ended', startTime: null }],
    'preparing → ended',
  );

  await api.create(alice, 'r3');
  t.same(err(await put('r3', 'live', await api.as('bob'))), [403, 'NOT_ALLOWED'], 'not the owner');
  const admin = await put('r3', 'live', await api.as('carol', { admin: ['r3'] }));
  t.equal(admin.status, 200, 'an admin of the room may');
  t.equal(admin.body.room?.streamKey, undefined, 'the stream key stays the owner’s');
  t.same(err(await put('nope', 'live')), [404, 'ROOM_NOT_FOUND']);
});

t.test('DELETE ends the room and keeps its history', async (t) => {
  const api = await startRest(t);
  const alice = await api.as('alice');
  await api.create(alice, 'r1');
  await api.call('PUT', '/api/rooms/r1', { token: alice, json: { status: 'live' } });
  t.same(err(await api.call('DELETE', '/api/rooms/r1', { token: await api.as('bob') })), [
    403,
    'NOT_ALLOWED',
  ]);
  const gone = await api.call('DELETE', '/api/rooms/r1', { token: alice });
  t.match([gone.status, gone.body.room], [200, { id: 'r1', status: 'ended', endTime: Number }]);
  const again = await api.call('DELETE', '/api/rooms/r1', { token: alice });
  t.same(
    [again.status, again.body.room],
    [200, gone.body.room],
    'deleting an ended room changes nothing',
  );
  const read = await api.call('GET', '/api/rooms/r1', { token: alice });
  t.same(read.body.room, gone.body.room, 'the room is still there, ended');

  await api.synced();
  const listed = await api.call('GET', '/api/rooms?status=ended', { token: alice });
  t.same(
    listed.body.rooms?.map((r) => r.id),
    ['r1'],
    'and listed as ended',
  );
  const history = await api.sys.bus.request<{ ok: boolean; events: { event: { type: string } }[] }>(
    'catalog.query',
    { type: 'room_events', roomId: 'r1', fromSeq: 1, limit: 100 },
  );
  t.same(
    history.events.map((e) => e.event.type),
    ['room_created', 'status_changed', 'status_changed'],
    'its history is archived',
  );
  t.same(err(await api.call('DELETE', '/api/rooms/nope', { token: alice })), [
    404,
    'ROOM_NOT_FOUND',
  ]);
});

t.test('private rooms: 404 to those not allowed, as if they did not exist', async (t) => {
  const api = await startRest(t);
  const alice = await api.as('alice');
  const bob = await api.as('bob');
  const dave = await api.as('dave', { view: ['secret'] });
  const root = await api.as('root', { admin: ['*'] });
  await api.create(alice, 'secret', { isPrivate: true });
  await api.create(alice, 'open');

  const unknown = await api.call('GET', '/api/rooms/unknown', { token: bob });
  const hidden = await api.call('GET', '/api/rooms/secret', { token: bob });
  t.same(
    [hidden.status, hidden.body],
    [unknown.status, unknown.body],
    'same answer as an unknown room',
  );
  t.same(
    err(await api.call('PUT', '/api/rooms/secret', { token: bob, json: { status: 'live' } })),
    [404, 'ROOM_NOT_FOUND'],
  );
  t.same(err(await api.call('DELETE', '/api/rooms/secret', { token: bob })), [
    404,
    'ROOM_NOT_FOUND',
  ]);

  const granted = await api.call('GET', '/api/rooms/secret', { token: dave });
  t.same(
    [granted.status, granted.body.room?.id, granted.body.room?.streamKey],
    [200, 'secret', undefined],
  );
  t.equal(
    (await api.call('GET', '/api/rooms/secret', { token: alice })).body.room?.streamKey !==
      undefined,
    true,
  );

  await api.synced();
  const ids = async (token: string) =>
    (await api.call('GET', '/api/rooms', { token })).body.rooms?.map((r) => r.id).sort();
  t.same(await ids(bob), ['open'], 'not listed to others');
  t.same(await ids(dave), ['open', 'secret'], 'listed to those the token names it for');
  t.same(await ids(alice), ['open', 'secret'], 'listed to its owner');
  t.same(await ids(root), ['open', 'secret'], 'listed to a wildcard grant');
  const own = await api.call('GET', '/api/rooms', { token: alice });
  t.ok(
    own.body.rooms?.every((r) => typeof r.streamKey === 'string'),
    'owner sees own keys in lists',
  );
  const other = await api.call('GET', '/api/rooms', { token: root });
  t.ok(
    other.body.rooms?.every((r) => r.streamKey === undefined),
    'nobody else does',
  );
});

t.test('GET /api/rooms: filters, cursor pages in a stable order, a bounded limit', async (t) => {
  const api = await startRest(t, { CATALOG_PAGE_SIZE: '4', CATALOG_PAGE_SIZE_MAX: '6' });
  const tokens = { alice: await api.as('alice'), bob: await api.as('bob') };
  const rooms: LiveRoom[] = [];
  for (let i = 0; i < 13; i++) {
    const owner = i % 3 === 0 ? 'bob' : 'alice';
    const r = await api.call('POST', '/api/rooms', {
      token: tokens[owner],
      json: { roomId: `room${String(i).padStart(2, '0')}`, title: `Room ${i}`, isPrivate: false },
    });
    rooms.push(r.body.room!);
    if (i % 4 === 1)
      await api.call('PUT', `/api/rooms/${r.body.room!.id}`, {
        token: tokens[owner],
        json: { status: 'live' },
      });
  }
  await api.synced();
  const order = [...rooms]
    .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1))
    .map((r) => r.id);

  const first = await api.call('GET', '/api/rooms', { token: tokens.alice });
  t.equal(first.status, 200);
  t.equal(first.body.rooms?.length, 4, 'CATALOG_PAGE_SIZE rooms without a limit');
  t.type(first.body.nextCursor, 'string');

  const walk = async (query: string, between?: () => Promise<void>) => {
    const seen: string[] = [];
    let cursor: string | null | undefined;
    for (let pages = 0; pages < 50; pages++) {
      const q = cursor === undefined || cursor === null ? query : `${query}&cursor=${cursor}`;
      const r = await api.call('GET', `/api/rooms?${q}`, { token: tokens.alice });
      t.equal(r.status, 200, q);
      seen.push(...(r.body.rooms ?? []).map((x) => x.id));
      cursor = r.body.nextCursor;
      if (cursor === null) return seen;
      await between?.();
    }
    throw new Error('no last page');
  };
  t.same(await walk('limit=5'), order, 'every room once, newest first');
  let n = 0;
  const churned = await walk('limit=3', async () => {
    // New rooms and status changes between pages.
    await api.call('POST', '/api/rooms', {
      token: tokens.bob,
      json: { roomId: `new${n++}`, title: 'New', isPrivate: false },
    });
    const changed = rooms.find((r) => r.id === order[n]);
    if (changed !== undefined)
      await api.call('DELETE', `/api/rooms/${changed.id}`, {
        token: tokens[changed.userId as 'bob'],
      });
    await api.synced();
  });
  t.same(churned, order, 'stable while rooms are added and change');

  await api.synced();
  const ids = async (query: string) =>
    (await api.call('GET', `/api/rooms?${query}`, { token: tokens.alice })).body.rooms?.map(
      (r) => r.id,
    );
  const live = (await ids('status=live&limit=6')) ?? [];
  t.ok(live.length > 0);
  for (const id of live) {
    const r = await api.call('GET', `/api/rooms/${id}`, { token: tokens.alice });
    t.equal(r.body.room?.status, 'live', `${id} is live`);
  }
  const bobs = (await ids('owner=bob&limit=6')) ?? [];
  t.ok(bobs.length > 0);
  t.ok(
    bobs.every((id) => rooms.find((r) => r.id === id)?.userId === 'bob' || id.startsWith('new')),
    'owner filter',
  );
  const bobsLive = (await ids('owner=bob&status=live')) ?? [];
  t.ok(
    bobsLive.every((id) => bobs.includes(id) && live.includes(id)),
    'both filters',
  );

  const bad: [string, RegExp][] = [
    ['limit=0', /^limit: /],
    ['limit=7', /^limit: /],
    ['limit=abc', /^limit: Expected integer/],
    ['limit=-1', /^limit: /],
    ['status=paused', /^status: one of preparing, live, ended$/],
    ['owner=a.b', /^owner: /],
    ['sort=asc', /^sort: unknown field$/],
    ['status=live&status=ended', /^status: given more than once$/],
    ['cursor=abc', /^cursor: /],
    ['cursor=%25%25', /^cursor: /],
  ];
  for (const [query, message] of bad) {
    const r = await api.call('GET', `/api/rooms?${query}`, { token: tokens.alice });
    t.same(err(r), [400, 'BAD_FRAME'], query);
    t.match(r.body.error?.message, message, `${query}: ${r.body.error?.message ?? ''}`);
  }
});

t.test('a room whose owner is not running: 503 UNAVAILABLE', async (t) => {
  const api = await startRest(t);
  const alice = await api.as('alice');
  await api.create(alice, 'r1');
  await api.sys.room.stop();
  const calls: [string, string, unknown?][] = [
    ['GET', '/api/rooms/r1'],
    ['POST', '/api/rooms', { title: 'x', isPrivate: false }],
    ['PUT', '/api/rooms/r1', { status: 'live' }],
    ['DELETE', '/api/rooms/r1'],
  ];
  for (const [method, path, json] of calls) {
    const r = await api.call(method, path, {
      token: alice,
      ...(json === undefined ? {} : { json }),
    });
    t.same(err(r), [503, 'UNAVAILABLE'], `${method} ${path}`);
  }
  t.equal(
    (await api.call('GET', '/api/rooms', { token: alice })).status,
    200,
    'lists still answer',
  );
  await api.catalog.stop();
  t.same(
    err(await api.call('GET', '/api/rooms', { token: alice })),
    [503, 'UNAVAILABLE'],
    'no catalogue',
  );
});

t.test('other methods are 405 with allow; other paths 404', async (t) => {
  const api = await startRest(t);
  const alice = await api.as('alice');
  const a = await api.call('PATCH', '/api/rooms', { token: alice });
  t.same([...err(a), a.headers.get('allow')], [405, 'METHOD_NOT_ALLOWED', 'GET, POST']);
  const b = await api.call('POST', '/api/rooms/r1', { token: alice, json: {} });
  t.same([...err(b), b.headers.get('allow')], [405, 'METHOD_NOT_ALLOWED', 'GET, PUT, DELETE']);
  t.same(err(await api.call('GET', '/api/rooms/r1/members', { token: alice })), [404, 'NOT_FOUND']);
});
