/**
 * The room commands as JSON Schemas (TypeBox), checked once where a command
 * reaches the room service: a malformed command is refused with BAD_FRAME before
 * any room sees it, so the inside can trust its types. Strict like client frames
 * (no extra properties); ids that end up in subjects must be subject tokens.
 * Limits that come from config (title length, capacity) are the service's checks.
 *
 * The TypeScript types stay in room.commands.ts (with their docs); the checks at the
 * bottom of this file fail to compile when a schema and its type drift apart.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { ErrorCode, errorBody, type ErrorBody } from '../wire/errors.js';
import { Role, RoomStatus } from '../wire/protocol.js';
import { SUBJECT_TOKEN_PATTERN } from '../wire/subjects.js';
import { StreamStopReason, StreamViewerLeftReason } from './room.events.js';
import type { RoomCommand, RoomCommandType } from './room.commands.js';

const strict = { additionalProperties: false } as const;
const Id = Type.String({ pattern: SUBJECT_TOKEN_PATTERN });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const OneOf = <T extends Record<string, string>>(values: T) =>
  Type.Union(Object.values(values).map((v) => Type.Literal(v as T[keyof T])));
const Perms = Type.Object(
  { publish: Type.Boolean(), view: Type.Boolean(), admin: Type.Boolean() },
  strict,
);
const conn = { gateway: Id, conn: Type.String() };
const command = <K extends string, P extends Record<string, TSchema>>(type: K, props: P) =>
  Type.Object({ type: Type.Literal(type), ...props }, strict);

/** One schema per command type. */
export const roomCommandSchemas = {
  create: command('create', {
    userId: Type.String(),
    title: Type.String(),
    isPrivate: Type.Boolean(),
    maxViewers: Type.Optional(Type.Number()),
  }),
  join: command('join', {
    peerId: Id,
    userId: Type.String(),
    role: OneOf(Role),
    perms: Perms,
    ...conn,
  }),
  leave: command('leave', { peerId: Id, userId: Type.String(), ...conn }),
  disconnect: command('disconnect', { peerId: Id, ...conn }),
  resume: command('resume', { token: Type.String(), userId: Type.String(), ...conn }),
  set_status: command('set_status', {
    status: OneOf(RoomStatus),
    userId: Type.String(),
    perms: Perms,
  }),
  kick: command('kick', { peerId: Id, reason: Type.String(), userId: Type.String(), perms: Perms }),
  get: command('get', { userId: Type.Optional(Type.String()), perms: Type.Optional(Perms) }),
  state: command('state', {}),
  stream_publish: command('stream_publish', {
    clientId: Type.String(),
    serviceId: Nullable(Type.String()),
    key: Nullable(Type.String()),
    userId: Nullable(Type.String()),
    perms: Perms,
  }),
  raise_hand: command('raise_hand', { peerId: Id, userId: Type.String() }),
  lower_hand: command('lower_hand', { peerId: Id, userId: Type.String() }),
  invite: command('invite', { peerId: Id, userId: Type.String(), perms: Perms }),
  demote: command('demote', { peerId: Id, userId: Type.String(), perms: Perms }),
  stream_confirm: command('stream_confirm', {
    clientId: Type.String(),
    streamId: Nullable(Type.String()),
  }),
  stream_unpublish: command('stream_unpublish', {
    clientId: Type.String(),
    reason: OneOf(StreamStopReason),
    graceMs: Type.Number(),
    endAfterMs: Type.Number(),
  }),
  stream_play: command('stream_play', {
    clientId: Type.String(),
    serviceId: Nullable(Type.String()),
    userId: Nullable(Type.String()),
    perms: Perms,
  }),
  stream_stop: command('stream_stop', {
    clientId: Type.String(),
    reason: OneOf(StreamViewerLeftReason),
  }),
  stream_sync: command('stream_sync', {
    serviceId: Type.String(),
    streamId: Nullable(Type.String()),
    publisher: Nullable(Type.String()),
    viewers: Type.Array(Type.String()),
    listAgeMs: Type.Number(),
    graceMs: Type.Number(),
    endAfterMs: Type.Number(),
  }),
  stream_status: command('stream_status', {}),
  stream_unknown: command('stream_unknown', { since: Type.Number() }),
  stream_expire: command('stream_expire', {}),
} satisfies { [K in RoomCommandType]: TSchema };

type Schemas = typeof roomCommandSchemas;

// Compiled once, when the module loads.
const checks = new Map<string, TypeCheck<TSchema>>(
  Object.entries(roomCommandSchemas).map(([type, schema]) => [type, TypeCompiler.Compile(schema)]),
);

/** A command as it arrived: valid, or the refusal to send back. */
export type ParsedCommand = { ok: true; command: RoomCommand } | { ok: false; error: ErrorBody };

/**
 * Checks a decoded command. Dispatching on `type` first keeps the refusal precise
 * ("unknown command" rather than "matches none of 17 schemas").
 */
export function parseRoomCommand(value: unknown): ParsedCommand {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return bad('a command is a JSON object');
  const type = (value as { type?: unknown }).type;
  const check = typeof type === 'string' ? checks.get(type) : undefined;
  if (check === undefined) return bad('unknown command');
  if (!check.Check(value)) {
    const first = check.Errors(value).First();
    const where = first === undefined || first.path === '' ? '' : `${first.path}: `;
    return bad(`${type as string} ${where}${first?.message ?? 'invalid'}`.slice(0, 200));
  }
  return { ok: true, command: value as RoomCommand };
}

const bad = (message: string): ParsedCommand => ({
  ok: false,
  error: errorBody(ErrorCode.BAD_FRAME, message),
});

// Schema and type agree: the same keys, each field's type assignable both ways.
type Mutual<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Agrees<K extends RoomCommandType> =
  Mutual<Static<Schemas[K]>, Extract<RoomCommand, { type: K }>> extends true
    ? Mutual<keyof Static<Schemas[K]>, keyof Extract<RoomCommand, { type: K }>>
    : false;
type Disagreeing = { [K in RoomCommandType]: Agrees<K> extends true ? never : K }[RoomCommandType];
/** Compiles only while every schema agrees with its type (the error names the one that drifted). */
export const schemasAgree: [Disagreeing] extends [never] ? true : Disagreeing = true;
