/** How one setting is parsed: enums, integers with bounds, booleans, lists, secrets. */
import t from 'tap';
import { ConfigError, loadConfig, type Config } from './config.js';

/** `true` only when A and B are the same type (a `string` setting would not be). */
type Exact<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// Enum settings read as the union of their words, with no cast at the call site.
const storageIsUnion: Exact<Config['room']['storage'], 'jetstream' | 'memory'> = true;
const levelIsUnion: Exact<Config['log']['level'], 'debug' | 'info' | 'warn' | 'error'> = true;

t.test('enum settings: the declared words, the default when unset or empty', async (t) => {
  t.equal(storageIsUnion, true);
  t.equal(levelIsUnion, true);
  t.equal(loadConfig({}).room.storage, 'jetstream');
  t.equal(loadConfig({ ROOM_STORAGE: '' }).room.storage, 'jetstream');
  t.equal(loadConfig({ ROOM_STORAGE: 'memory' }).room.storage, 'memory');
  t.equal(loadConfig({}).log.level, 'info');
  t.equal(loadConfig({ LOG_LEVEL: 'debug' }).log.level, 'debug');
});

const refused: [NodeJS.ProcessEnv, RegExp][] = [
  [{ ROOM_STORAGE: 'disk' }, /^ROOM_STORAGE="disk": expected jetstream or memory$/],
  [{ ROOM_STORAGE: 'Memory' }, /^ROOM_STORAGE="Memory": expected jetstream or memory$/],
  [{ LOG_LEVEL: 'trace' }, /^LOG_LEVEL="trace": expected debug, info, warn or error$/],
  [{ GATEWAY_PORT: '80a' }, /^GATEWAY_PORT="80a": expected an integer$/],
  [{ GATEWAY_PORT: '70000' }, /^GATEWAY_PORT="70000": must be between 0 and 65535$/],
  [{ NATS_REPLICAS: '0' }, /^NATS_REPLICAS="0": must be between 1 and 5$/],
  [{ GATEWAY_DEMO: 'maybe' }, /^GATEWAY_DEMO="maybe": expected true or false$/],
  [{ ALERT_WEBHOOK_ATTEMPTS: '-1' }, /^ALERT_WEBHOOK_ATTEMPTS="-1": must be between 1 and 100$/],
];
for (const [env, error] of refused) {
  t.test(`refuses ${JSON.stringify(env)}`, async (t) => {
    const err = t.throws(() => loadConfig(env)) as Error;
    t.type(err, ConfigError);
    t.match(err.message, error);
  });
}

t.test('integers, booleans and lists', async (t) => {
  const c = loadConfig({
    GATEWAY_MAX_CONNECTIONS: '20_000',
    GATEWAY_DEMO: 'yes',
    GATEWAY_LOCAL_FASTPATH: 'off',
    NATS_URL: ' nats://a:4222 , ,nats://b:4222',
  });
  t.equal(c.gateway.maxConnections, 20_000);
  t.equal(c.gateway.demo, true);
  t.equal(c.gateway.localFastPath, false);
  t.same(c.nats.servers, ['nats://a:4222', 'nats://b:4222']);
});

t.test('a secret setting is not echoed in its error', async (t) => {
  const err = t.throws(() => loadConfig({ AUTH_JWT_SECRET: 'tiny' })) as Error;
  t.notMatch(err.message, /tiny/);
});

t.test('derived ids fill in GATEWAY_ID and ROOM_REPLICA_ID when unset', async (t) => {
  const c = loadConfig({});
  t.match(c.gateway.id, /^[A-Za-z0-9_-]+-\d+-[0-9a-f]{6}$/);
  t.match(c.room.replicaId, /^[A-Za-z0-9_-]+-\d+-[0-9a-f]{6}$/);
  t.equal(loadConfig({ GATEWAY_ID: 'gw-1' }).gateway.id, 'gw-1');
});
