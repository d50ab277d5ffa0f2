/**
 * Operators' view of the room log (JetStream ROOM_EVENTS).
 *
 *   npm run events -- rooms                         rooms in the log, with their batch counts
 *   npm run events -- show <room> [--from-seq N] [--since TIME] [--follow] [--json]
 *   npm run events -- rebuild <room>                rebuild from the log, compare with the live room
 *
 * TIME is an ISO date (2026-11-24T10:00:00Z) or a duration back from now (90s, 15m, 2h, 1d).
 * Reads NATS_URL like the services do. Exit code 0, or 1 when `rebuild` finds a difference;
 * `--help` prints the usage, and a command line it does not take exits 2 (cli.args.ts).
 *
 * It connects as the read-only `events` NATS user (bus.permissions.ts): with the seed in
 * NATS_NKEY_SEED_FILE when set, else the one `npm start` wrote
 * (`$ROOMCAST_DATA_DIR/credentials/events.nk`, `.data` under the repository root by
 * default) when it exists, else without credentials (a server without users). Against compose, point
 * NATS_NKEY_SEED_FILE at `.secrets/nats/events.nk` (`npm run nats:credentials`).
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import { existsSync } from 'node:fs';
import { loadConfig } from '#config/config.js';
import { Bus, decode } from '#shared/runtime/bus.js';
import { connectAuth, credentialsDir, seedPath } from '#shared/runtime/bus.credentials.js';
import { Credential } from '#shared/runtime/bus.permissions.js';
import { createLogger } from '#shared/runtime/log.js';
import { RoomClient, RoomRefusedError } from '#shared/room/room.client.js';
import type { RoomEvent, RoomEventBatch } from '#shared/room/room.events.js';
import { streamNames } from '#shared/runtime/streams.js';
import { isSubjectToken, subjects } from '#shared/wire/subjects.js';
import { stateHash } from '../services/room/room.actor.js';
import { JetStreamRoomLog, type StoredBatch } from '../services/room/room.log.js';
import { rebuildRoom } from '../services/room/room.recovery.js';
import { parseCli, usageError } from './cli.args.js';
import { dataDir } from './data.dir.js';

const usage = `usage:
  npm run events -- rooms                  rooms in the log, with their batch counts
  npm run events -- show <room> [options]  a room's events, oldest first
  npm run events -- rebuild <room>         rebuild the room from its log, compare with the live room

options of show:
  --from-seq N    from the room's sequence N
  --since TIME    from TIME: an ISO date (2026-11-24T10:00:00Z) or a duration back (90s, 15m, 2h, 1d)
  --follow        then wait for new events, until Ctrl-C
  --json          one JSON object per line
  -h, --help      this text

Reads NATS_URL; connects as the read-only events user with NATS_NKEY_SEED_FILE, else the
seed npm start keeps in $ROOMCAST_DATA_DIR/credentials (default: .data under the repository
root). Exit code 0; 1 when rebuild finds a difference or the log cannot be read; 2 for a
command line it does not take.`;

const commands = new Set(['rooms', 'show', 'rebuild']);

/** Parses an ISO date or a duration back from now ("15m"); ms since the epoch. */
export function parseSince(text: string, now = Date.now()): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(text);
  if (m !== null) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
    return now - Number(m[1]) * unit;
  }
  const at = Date.parse(text);
  if (Number.isNaN(at)) throw new Error(`--since: not a date or a duration: ${text}`);
  return at;
}

function describe(e: RoomEvent): string {
  const { type: _t, v: _v, at: _at, ...rest } = e;
  return JSON.stringify(rest);
}

function printBatch(b: StoredBatch, o: { fromSeq: number; since: number; json: boolean }): void {
  b.batch.events.forEach((e, i) => {
    const seq = b.batch.seq + i;
    if (seq < o.fromSeq || e.at < o.since) return;
    if (o.json)
      process.stdout.write(
        JSON.stringify({ room: b.batch.roomId, seq, streamSeq: b.streamSeq, ...e }) + '\n',
      );
    else
      process.stdout.write(`#${seq}\t${new Date(e.at).toISOString()}\t${e.type}\t${describe(e)}\n`);
  });
}

/** The `events` seed `npm start` keeps in its data directory, when there is one. */
function startSeed(): string | undefined {
  const file = seedPath(credentialsDir(dataDir()), Credential.events);
  return existsSync(file) ? file : undefined;
}

async function main(): Promise<number> {
  const { values, positionals } = parseCli(usage, (args) =>
    parseArgs({
      args,
      allowPositionals: true,
      options: {
        'from-seq': { type: 'string' },
        since: { type: 'string' },
        follow: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
    }),
  );
  const [command, roomId] = positionals;
  if (command === undefined) usageError(usage, 'events: which command?');
  if (!commands.has(command)) usageError(usage, `events: no command ${command}`);
  if (command !== 'rooms' && (roomId === undefined || !isSubjectToken(roomId)))
    usageError(usage, `events: ${command} needs a room id`);
  if (positionals.length > (command === 'rooms' ? 1 : 2))
    usageError(usage, `events: unexpected argument ${positionals.at(-1)}`);
  if (values['from-seq'] !== undefined && !/^\d+$/.test(values['from-seq']))
    usageError(usage, `events: --from-seq: not a sequence number: ${values['from-seq']}`);
  let since = 0;
  try {
    since = values.since === undefined ? 0 : parseSince(values.since);
  } catch (err) {
    usageError(usage, `events: ${(err as Error).message}`);
  }
  const config = loadConfig();
  const bus = await Bus.connect({
    servers: config.nats.servers,
    name: 'events-cli',
    requestTimeoutMs: config.nats.requestTimeoutMs,
    log: createLogger('events', 'error'),
    ...connectAuth(Credential.events, config.nats.nkeySeedFile ?? startSeed()),
  });
  try {
    const log = await JetStreamRoomLog.open(bus.nc, {
      writer: 'events-cli',
      replicas: config.nats.replicas,
      timeoutMs: 5000,
      readOnly: true,
    });
    switch (command) {
      case 'rooms': {
        const counts = [...(await log.batchCounts())].sort(([a], [b]) => (a < b ? -1 : 1));
        for (const [id, n] of counts) process.stdout.write(`${id}\t${n} batches\n`);
        return 0;
      }
      case 'show': {
        const room = roomId ?? '';
        const o = {
          fromSeq: Number(values['from-seq'] ?? 0),
          since,
          json: values.json,
        };
        let last = 0;
        for (const b of await log.readRoom(room, 0)) {
          printBatch(b, o);
          last = b.streamSeq;
        }
        if (!values.follow) return 0;
        // Follow: an ordered consumer from the next stream sequence, until Ctrl-C.
        const js = jetstream(bus.nc);
        const consumer = await js.consumers.get(streamNames.roomEvents, {
          filter_subjects: subjects.roomEvents(room),
          deliver_policy: last === 0 ? DeliverPolicy.New : DeliverPolicy.StartSequence,
          ...(last === 0 ? {} : { opt_start_seq: last + 1 }),
        });
        const messages = await consumer.consume();
        process.once('SIGINT', () => void messages.close());
        process.once('SIGTERM', () => void messages.close());
        for await (const m of messages)
          printBatch({ streamSeq: m.seq, batch: decode<RoomEventBatch>(m.data) }, o);
        return 0;
      }
      case 'rebuild': {
        const room = roomId ?? '';
        const { entry, batches } = await rebuildRoom(log, room);
        if (entry === undefined) {
          process.stdout.write(`${room}: no events in the log\n`);
          return 1;
        }
        const rebuilt = stateHash(entry.actor);
        const live = await new RoomClient(bus).state(room).catch((err: unknown) => err as Error);
        const events = batches.reduce((n, b) => n + b.events.length, 0);
        process.stdout.write(
          `${room}: rebuilt from ${batches.length} batches (${events} events), sequence ${entry.actor.state.seq}, status ${entry.actor.status}\n`,
        );
        process.stdout.write(`  rebuilt hash ${rebuilt}\n`);
        if (live instanceof Error) {
          // A refusal shows the room's code; a transport failure its message.
          const why = live instanceof RoomRefusedError ? live.body.code : live.message;
          process.stdout.write(`  live room: unavailable (${why})\n`);
          return 1;
        }
        process.stdout.write(
          `  live hash    ${live.hash} (sequence ${live.seq}, owner ${live.owner})\n`,
        );
        const same = live.hash === rebuilt;
        process.stdout.write(
          same
            ? '  MATCH: the live room equals its log\n'
            : '  DIFFERENT: the live room does not equal its log\n',
        );
        return same ? 0 : 1;
      }
      default:
        process.stderr.write(usage + '\n');
        return 2;
    }
  } finally {
    await bus.close();
  }
}

// Run only as a program, not when a test imports `parseSince`.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  });
}
