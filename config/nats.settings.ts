/** Connection to NATS and the JetStream replication every stream and bucket uses. */
import { int, list, str, type SettingGroup, type Values } from './setting.define.js';

export const natsSettings = {
  servers: list(
    'NATS_URL',
    ['nats://127.0.0.1:4222'],
    'NATS server URL(s), comma-separated: give every node of a cluster, so that a process (re)connects to any live one.',
  ),
  nkeySeedFile: str(
    'NATS_NKEY_SEED_FILE',
    undefined,
    "Path of the file holding this process's NATS nkey seed (`SU…`; see the Security model). Unset: connect without credentials, which only a server without users accepts. `npm start` and `npm run nats:credentials` write one per service.",
  ),
  requestTimeoutMs: int(
    'NATS_REQUEST_TIMEOUT_MS',
    2000,
    'Timeout of a request to another service, in ms.',
    50,
    60_000,
  ),
  roomCommandsInFlight: int(
    'ROOM_COMMANDS_IN_FLIGHT',
    256,
    'Commands to one room that a process sending them (each gateway process, the stream service) has sent and not had answered, at most; the rest wait their turn in that process, in order, and their NATS_REQUEST_TIMEOUT_MS starts when they are sent: a leave storm of a 20,000-viewer room is answered, not timed out. Keep it × the processes sending to one room under what a room replica answers within NATS_REQUEST_TIMEOUT_MS (about 5,000 commands a second on the benchmark machine).',
    1,
    100_000,
  ),
  roomCommandsQueued: int(
    'ROOM_COMMANDS_QUEUED',
    100_000,
    'Commands to one room waiting for a slot in one process, at most; one more is refused at once with UNAVAILABLE. A command that finds the room service not answering (timeout, no responders) fails the ones waiting behind it at once.',
    0,
    10_000_000,
  ),
  replicas: int(
    'NATS_REPLICAS',
    1,
    'Replicas of every JetStream stream (ROOM_EVENTS, ROOM_LIVE, ALERTS) and KV bucket: 1 on one nats-server, 3 on a three-node cluster (compose.yaml, `NATS_CLUSTER=3 npm start`). At most the number of nodes.',
    1,
    5,
  ),
} satisfies SettingGroup;

export type NatsConfig = Values<typeof natsSettings>;
