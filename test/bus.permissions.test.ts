/**
 * The shipped bus permissions (shared/runtime/bus.permissions.ts) over a real
 * nats-server: a table of subject × credential × publish/subscribe, each cell
 * checked against what the server does. A refused publish comes back as a
 * `PermissionViolationError` on the connection's status; a refused subscription
 * as that error on the subscription. The server answers a PING after everything
 * sent before it, so once `flush()` resolves, any refusal has been read; the status
 * iterator hands it over in microtasks, all run before the next `setImmediate`.
 */
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import {
  PermissionViolationError,
  type NatsConnection,
  type Subscription,
} from '@nats-io/nats-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authorizationConf, ensureSeedFiles } from '#shared/runtime/bus.credentials.js';
import { Credential, inboxPrefix, shippedCredentials } from '#shared/runtime/bus.permissions.js';
import { startNats, type NatsServer } from './helpers/nats.js';

const { gateway, room, stream, alert, catalog, events } = Credential;
const services = [gateway, room, stream, alert, catalog, events] as const;

/** [subject, the credentials that may use it]; the superuser may use any. */
type Row = [string, readonly Credential[]];

/** A table in text: one subject a line, then who may use it (`-`: no one); `#` comments. */
function rows(text: string): Row[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [subject = '', ...who] = line.split(/\s+/);
      return [subject, who.filter((c) => c !== '-') as Credential[]];
    });
}

/** Who may publish to each subject. */
const publishTable: Row[] = [
  ...rows(`
  room.r1.cmd                                                    gateway
  room.r1.svc                                                    stream
  room.r1.ops                                                    events
  room.r1.sig.p1                                                 gateway
  room.r1.bcast                                                  room
  evt.room.r1                                                    room
  gw.g1.alive                                                    gateway
  catalog.query                                                  gateway catalog
  alerts.query                                                   gateway
  stream.r1.status                                               gateway
  alert.critical.rule                                            alert
  _INBOX.x                                                       -
  # Readers that start first create it with the room service's config (bus.permissions.ts).
  $JS.API.STREAM.CREATE.ROOM_EVENTS                              room alert catalog
  $JS.API.STREAM.UPDATE.ROOM_EVENTS                              room
  $JS.API.STREAM.DELETE.ROOM_EVENTS                              -
  $JS.API.STREAM.PURGE.ROOM_EVENTS                               -
  $JS.API.STREAM.MSG.DELETE.ROOM_EVENTS                          -
  $JS.API.STREAM.INFO.ROOM_EVENTS                                room alert catalog events
  $JS.API.CONSUMER.CREATE.ROOM_EVENTS.c.evt.room.r1              room alert catalog events
  $JS.API.DIRECT.GET.ROOM_EVENTS                                 room alert catalog events
  $JS.API.STREAM.MSG.GET.ROOM_EVENTS                             room alert catalog events
  # Durable consumers: the read-only user can neither make one nor delete another's.
  $JS.API.CONSUMER.DURABLE.CREATE.ROOM_EVENTS.d                  room alert catalog
  $JS.API.CONSUMER.DELETE.ROOM_EVENTS.catalog-jetstream          room alert catalog
  $JS.API.STREAM.CREATE.ALERTS                                   alert
  $JS.API.STREAM.INFO.ALERTS                                     alert
  $JS.API.STREAM.DELETE.ALERTS                                   -
  $KV.room-snapshots.r1                                          room
  $KV.room-leases.p0                                             room
  $JS.API.STREAM.CREATE.KV_room-snapshots                        room
  $JS.API.CONSUMER.CREATE.KV_room-snapshots.c                    room
  $KV.room-ended.r1                                              room
  # An ended room's live snapshot is purged whole; no other stream may be purged.
  $JS.API.STREAM.PURGE.KV_room-snapshots                         room
  $JS.API.STREAM.PURGE.KV_room-ended                             -
  # The index of open rooms: a closed room's entry removed by its sequence, never purged.
  live.room.r1                                                   room
  $JS.API.STREAM.MSG.DELETE.ROOM_LIVE                            room
  $JS.API.STREAM.PURGE.ROOM_LIVE                                 -
  $KV.catalog.room.r1                                            catalog
  # The catalogue keeps no copy of the log (it reads ROOM_EVENTS): no one writes its old bucket.
  $KV.catalog-events.r1.1                                        -
  $JS.API.DIRECT.GET.KV_catalog.$KV.catalog.room.r1              catalog
  $KV.alert-state.rooms                                          alert
  $KV.alert-leader.leader                                        alert
  $KV.revocations.user.u1                                        gateway
  $JS.API.STREAM.CREATE.KV_revocations                           gateway
  $JS.API.DIRECT.GET.KV_revocations.$KV.revocations.user.u1      gateway stream
  $JS.API.CONSUMER.CREATE.KV_revocations.w.$KV.revocations.>     gateway stream
  $JS.API.STREAM.DELETE.KV_revocations                           -
  $JS.API.ACCOUNT.PURGE                                          -
  $SYS.REQ.SERVER.PING                                           -
  anything.else                                                  -
`),
  // Each service its own metric samples only.
  ...[gateway, room, stream, alert, catalog].map((c): Row => [`metric.${c}.sample`, [c]]),
  // Answers go into the inboxes of those who ask, and nowhere else: the room service
  // answers gateways, the stream service, operators' `events` and its own healthcheck;
  // the catalogue answers gateways and its own healthcheck; a gateway acknowledges
  // another's first signal; every answering service answers the test-only operator.
  [`${inboxPrefix(gateway)}.x`, [room, stream, alert, catalog]],
  [`${inboxPrefix(gateway)}.sigack.g1.1`, [gateway, room, stream, alert, catalog]],
  [`${inboxPrefix(room)}.x`, [room]],
  [`${inboxPrefix(stream)}.x`, [room]],
  [`${inboxPrefix(alert)}.x`, []],
  [`${inboxPrefix(catalog)}.x`, [catalog]],
  [`${inboxPrefix(events)}.x`, [room]],
  [`${inboxPrefix(Credential.operator)}.x`, [gateway, room, stream, alert, catalog]],
];

/** Who may subscribe to each subject. */
const subscribeTable: Row[] = [
  ...rows(`
  >                                                              -
  room.r1.bcast                                                  gateway
  room.r1.sig.*                                                  gateway
  room.r1.>                                                      -
  evt.room.*                                                     -
  evt.>                                                          -
  gw.*.alive                                                     room
  metric.>                                                       alert
  alerts.query                                                   alert
  alert.>                                                        -
  catalog.query                                                  catalog
  stream.*.status                                                stream
  _INBOX.>                                                       -
  $KV.revocations.>                                              -
  $KV.room-snapshots.>                                           -
  $JS.ACK.ROOM_EVENTS.>                                          -
`),
  ...['cmd', 'svc', 'ops'].map((kind): Row => [`room.*.${kind}`, [room]]),
  ...services.map((c): Row => [`${inboxPrefix(c)}.>`, [c]]),
];

/** Connects as `credential` and records every permission refusal the server sends. */
async function connectAs(nats: NatsServer, credential: Credential) {
  const nc = await connect({ ...nats.connectOptions(credential), name: credential });
  const refused: PermissionViolationError[] = [];
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'error' && s.error instanceof PermissionViolationError) refused.push(s.error);
    }
  })();
  return { nc, refused };
}

/** Everything sent so far is answered, and whatever the server refused has been handed over. */
async function settled(nc: NatsConnection): Promise<void> {
  await nc.flush();
  await new Promise(setImmediate);
}

/** True when the server let `nc` publish to `subject`. */
async function mayPublish(
  nc: NatsConnection,
  refused: PermissionViolationError[],
  subject: string,
): Promise<boolean> {
  nc.publish(subject, '{}');
  await settled(nc);
  return !refused.some((e) => e.operation === 'publish' && e.subject === subject);
}

/** True when the server let `nc` subscribe to `subject`. */
async function maySubscribe(nc: NatsConnection, subject: string): Promise<boolean> {
  let error: Error | undefined;
  const sub: Subscription = nc.subscribe(subject, {
    callback: (err) => {
      if (err !== null) error = err;
    },
  });
  await settled(nc);
  const refused = error instanceof PermissionViolationError;
  sub.unsubscribe();
  return !refused;
}

const nats = await startNats();
t.teardown(() => nats.stop());

for (const credential of [...services, Credential.operator]) {
  t.test(`${credential}: publish and subscribe exactly its job`, async (t) => {
    const { nc, refused } = await connectAs(nats, credential);
    t.teardown(() => nc.close());
    const superuser = credential === Credential.operator;
    for (const [subject, allowed] of publishTable) {
      const expected = superuser || allowed.includes(credential);
      t.equal(
        await mayPublish(nc, refused, subject),
        expected,
        `${credential} ${expected ? 'may' : 'may not'} publish ${subject}`,
      );
    }
    for (const [subject, allowed] of subscribeTable) {
      const expected = superuser || allowed.includes(credential);
      t.equal(
        await maySubscribe(nc, subject),
        expected,
        `${credential} ${expected ? 'may' : 'may not'} subscribe ${subject}`,
      );
    }
    t.notOk(nc.isClosed(), 'refusals never close the connection');
  });
}

t.test('an anonymous connection is refused', async (t) => {
  await t.rejects(connect({ servers: nats.url, reconnect: false }), /authorization/i);
});

t.test('a wrong key is refused', async (t) => {
  // The seed of another server's user: a key the server does not know.
  const other = await startNats();
  t.teardown(() => other.stop());
  const options = { ...other.connectOptions(Credential.room), servers: [nats.url] };
  await t.rejects(connect({ ...options, reconnect: false }), /authorization/i);
});

t.test('what npm start and compose ship has no superuser', async (t) => {
  t.notOk(shippedCredentials.includes(Credential.operator), 'operator is test-only');
  const dir = mkdtempSync(join(tmpdir(), 'roomcast-creds-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const users = ensureSeedFiles(dir);
  t.same(
    users.map((u) => u.credential),
    [gateway, room, stream, alert, catalog, events],
  );
  const conf = authorizationConf(users);
  t.notMatch(conf, /"allow":\["?>"?\]|"allow":\[">"/, 'no user may use every subject');
  t.notMatch(conf, /no_auth_user|password/, 'no anonymous user, no password');
  t.notMatch(conf, /"SU/, 'public keys only, never a seed');
});
