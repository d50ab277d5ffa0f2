/**
 * The REST room API under `/api/rooms`, authenticated with the same JWTs as the
 * WebSocket (`Authorization: Bearer <jwt>`), answering errors as
 * `{error: {code, message}}` with the codes of the WebSocket protocol.
 *
 * - Writes and single-room reads go to the room's actor (`room.<id>.cmd`): it is
 *   the truth and decides every transition. Lists go to the catalogue
 *   (`catalog.query`), a projection of ROOM_EVENTS that trails it slightly.
 * - A private room is answered 404 to those not allowed in it, exactly as an
 *   unknown room, so that its existence does not leak.
 * - Bodies and query strings are checked strictly at the edge (schemas compiled
 *   once, no extra fields), before anything else sees them.
 */
import { randomBytes } from 'node:crypto';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import type { TemplatedApp } from 'uWebSockets.js';
import type { Config } from '#config/config.js';
import { viewerOf, type CatalogReply } from '#shared/room/catalog.js';
import {
  ErrorCode,
  RoomcastError,
  errorBody,
  isErrorCode,
  type ErrorBody,
} from '#shared/wire/errors.js';
import { permsFor, type RoomPerms } from '#shared/auth/grants.js';
import type { RoomStatus } from '#shared/wire/protocol.js';
import type { LiveRoom } from '#shared/room/room.commands.js';
import { RoomRefusedError } from '#shared/room/room.client.js';
import { SUBJECT_TOKEN_PATTERN, isSubjectToken, subjects } from '#shared/wire/subjects.js';
import type { Identity } from '#shared/auth/auth.js';
import { Reply, authenticatedRoute, queryOf, readBody, type HttpContext } from './gateway.http.js';

const strict = { additionalProperties: false } as const;
const Token = Type.String({ pattern: SUBJECT_TOKEN_PATTERN });
const Status = Type.Union([Type.Literal('preparing'), Type.Literal('live'), Type.Literal('ended')]);

/** The JSON Schemas of the API's inputs, for the configured limits. */
export function restSchemas(config: Config) {
  return {
    /** POST /api/rooms */
    create: Type.Object(
      {
        roomId: Type.Optional(Token),
        title: Type.String({ minLength: 1, maxLength: config.room.maxTitleChars }),
        isPrivate: Type.Boolean(),
        maxViewers: Type.Optional(
          Type.Integer({ minimum: 1, maximum: config.room.maxViewersLimit }),
        ),
      },
      strict,
    ),
    /** PUT /api/rooms/:roomId. `preparing` is a status, but never a target: it answers 409. */
    update: Type.Object({ status: Status }, strict),
    /** GET /api/rooms query string (`limit` arrives as digits and is read as a number). */
    list: Type.Object(
      {
        status: Type.Optional(Status),
        owner: Type.Optional(Token),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: config.catalog.pageSizeMax })),
        cursor: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,512}$' })),
      },
      strict,
    ),
  } satisfies Record<string, TSchema>;
}
type Schemas = ReturnType<typeof restSchemas>;
type Input<K extends keyof Schemas> = Static<Schemas[K]>;

/** One line naming the first field that is wrong and how. */
function fieldMessage(e: ValueError | undefined, what: string): string {
  if (e === undefined) return `${what}: invalid`;
  const field = e.path === '' ? what : e.path.slice(1).replaceAll('/', '.');
  if (e.type === ValueErrorType.ObjectRequiredProperty) return `${field}: required`;
  if (e.type === ValueErrorType.ObjectAdditionalProperties) return `${field}: unknown field`;
  if (e.type === ValueErrorType.Union) {
    // A union of string literals: name them rather than "Expected union value".
    const options = (e.schema.anyOf as { const?: unknown }[] | undefined)?.map((s) => s.const);
    if (options?.every((o) => typeof o === 'string') === true)
      return `${field}: one of ${options.join(', ')}`;
  }
  return `${field}: ${e.message}`.slice(0, 200);
}

function check<S extends TSchema>(c: TypeCheck<S>, value: unknown, what: string): Static<S> {
  if (!c.Check(value)) {
    throw new RoomcastError(ErrorCode.BAD_FRAME, fieldMessage(c.Errors(value).First(), what));
  }
  return value;
}

/** A room command's refusal as an error (codes from another version become INTERNAL). */
function refused(error: ErrorBody): RoomcastError {
  return isErrorCode(error.code)
    ? new RoomcastError(error.code, error.message)
    : new RoomcastError(ErrorCode.INTERNAL, error.message);
}

/** The room id of a path, or 404: an id that cannot exist names no room. */
function roomIdOf(raw: string): string {
  let id = raw;
  try {
    id = decodeURIComponent(raw);
  } catch {
    // Malformed escapes: not a room id either.
  }
  if (!isSubjectToken(id)) throw new RoomcastError(ErrorCode.ROOM_NOT_FOUND);
  return id;
}

/** What a route handler answers. */
interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** What a route handler gets: everything copied out of the request before any `await`. */
interface RestRequest {
  identity: Identity;
  roomId: string;
  query: string;
  contentType: string;
  body: Promise<Buffer> | undefined;
}

const JSON_TYPE = /^application\/json\s*(;|$)/i;

class RestApi {
  private readonly checks: { [K in keyof Schemas]: TypeCheck<Schemas[K]> };

  constructor(private readonly ctx: HttpContext) {
    const schemas = restSchemas(ctx.config);
    this.checks = {
      create: TypeCompiler.Compile(schemas.create),
      update: TypeCompiler.Compile(schemas.update),
      list: TypeCompiler.Compile(schemas.list),
    };
  }

  /** Reads and checks a JSON body: content type, size (TOO_LARGE), JSON, schema. */
  private async body<K extends 'create' | 'update'>(req: RestRequest, kind: K): Promise<Input<K>> {
    if (!JSON_TYPE.test(req.contentType)) {
      throw new RoomcastError(ErrorCode.BAD_FRAME, 'content-type: must be application/json');
    }
    const raw = await (req.body ?? Promise.resolve(Buffer.alloc(0)));
    let value: unknown;
    try {
      value = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new RoomcastError(ErrorCode.BAD_JSON, 'body is not valid JSON');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new RoomcastError(ErrorCode.BAD_FRAME, 'body: must be a JSON object');
    }
    return check<Schemas[K]>(this.checks[kind], value, 'body');
  }

  /** The room as this caller may see it; 404 when unknown or private to others. */
  private async visibleRoom(
    identity: Identity,
    roomId: string,
  ): Promise<{ room: LiveRoom; perms: RoomPerms }> {
    const perms = permsFor(identity.grants, roomId);
    const { room } = await this.ctx.rooms.get(roomId, { userId: identity.userId, perms });
    return { room, perms };
  }

  async create(req: RestRequest): Promise<Answer> {
    const { identity } = req;
    if (!identity.grants.create) {
      throw new RoomcastError(ErrorCode.NOT_ALLOWED, 'this token may not create rooms');
    }
    const input = await this.body(req, 'create');
    // 16 characters of base64url: a subject token, and 96 bits make a collision moot.
    const roomId = input.roomId ?? randomBytes(12).toString('base64url');
    const { room } = await this.ctx.rooms.create(roomId, {
      userId: identity.userId,
      title: input.title,
      isPrivate: input.isPrivate,
      ...(input.maxViewers === undefined ? {} : { maxViewers: input.maxViewers }),
    });
    return {
      status: 201,
      body: { room },
      headers: { location: `/api/rooms/${roomId}` },
    };
  }

  async get(req: RestRequest): Promise<Answer> {
    const { room } = await this.visibleRoom(req.identity, req.roomId);
    return { status: 200, body: { room } };
  }

  async list(req: RestRequest): Promise<Answer> {
    const params: Record<string, unknown> = {};
    for (const [key, value] of new URLSearchParams(req.query)) {
      if (Object.hasOwn(params, key))
        throw new RoomcastError(ErrorCode.BAD_FRAME, `${key}: given more than once`);
      params[key] = key === 'limit' && /^\d{1,9}$/.test(value) ? Number(value) : value;
    }
    const q = check(this.checks.list, params, 'query');
    const reply = await this.ctx.bus.request<CatalogReply<'list_rooms'>>(subjects.catalogQuery, {
      type: 'list_rooms',
      viewer: viewerOf(req.identity.userId, req.identity.grants),
      limit: q.limit ?? this.ctx.config.catalog.pageSize,
      ...(q.status === undefined ? {} : { status: q.status }),
      ...(q.owner === undefined ? {} : { owner: q.owner }),
      ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
    });
    if (!reply.ok) throw refused(reply.error);
    return { status: 200, body: { rooms: reply.rooms, nextCursor: reply.nextCursor } };
  }

  /**
   * Sets the status: preparing → live, live → ended, preparing → ended. Setting
   * the status a room has (live → live) changes nothing; anything out of ended, or
   * back to preparing, is 409 INVALID_TRANSITION with the current status.
   */
  async setStatus(req: RestRequest, target?: RoomStatus): Promise<Answer> {
    const { identity, roomId } = req;
    const to = target ?? (await this.body(req, 'update')).status;
    const { room, perms } = await this.visibleRoom(identity, roomId);
    if (room.userId !== identity.userId && !perms.admin) {
      throw new RoomcastError(
        ErrorCode.NOT_ALLOWED,
        'only the room owner or an admin may change its status',
      );
    }
    // DELETE ends the room; a room that has ended already stays as it is.
    if (target === 'ended' && room.status === 'ended') return { status: 200, body: { room } };
    if (to === 'preparing' || room.status === 'ended') return invalidTransition(room.status, to);
    try {
      const reply = await this.ctx.rooms.setStatus(roomId, {
        status: to,
        userId: identity.userId,
        perms,
      });
      return { status: 200, body: { room: reply.room } };
    } catch (err) {
      if (
        !(err instanceof RoomRefusedError) ||
        (err.code !== ErrorCode.ROOM_ENDED && err.code !== ErrorCode.INVALID_TRANSITION)
      )
        throw err;
    }
    // It changed since we looked: answer with what it is now.
    const now = (await this.visibleRoom(identity, roomId)).room;
    if (target === 'ended' && now.status === 'ended') return { status: 200, body: { room: now } };
    return invalidTransition(now.status, to);
  }
}

function invalidTransition(current: RoomStatus, to: RoomStatus): Answer {
  return {
    status: 409,
    body: {
      error: errorBody(
        ErrorCode.INVALID_TRANSITION,
        current === to
          ? `the room is ${current} already`
          : `a room that is ${current} cannot become ${to}`,
      ),
      status: current,
    },
  };
}

type Handler = (req: RestRequest) => Promise<Answer>;

/** Registers `/api/rooms` on the gateway's app. */
export function registerRest(app: TemplatedApp, ctx: HttpContext): void {
  const api = new RestApi(ctx);
  /** Registers `method path` (also the span's route) for `handler`. */
  const route = (
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    handler: Handler,
    o: { body?: boolean; roomId?: boolean } = {},
  ): void =>
    authenticatedRoute(
      app,
      ctx,
      method,
      path,
      (req, reply) => {
        const body = o.body === true ? readBody(reply, ctx.config.gateway.maxBodyBytes) : undefined;
        // The body is awaited (or not) after authentication; an early TOO_LARGE must not go unhandled.
        body?.catch(() => undefined);
        return {
          rawId: o.roomId === true ? req.getParameter(0) : '',
          query: queryOf(req),
          contentType: req.getHeader('content-type'),
          body,
        };
      },
      async (identity, { rawId, query, contentType, body }, reply) => {
        const roomId = o.roomId === true ? roomIdOf(rawId) : '';
        const answer = await handler({ identity, roomId, query, contentType, body });
        reply.json(answer.status, answer.body, answer.headers);
      },
    );
  const notAllowed =
    (allow: string) => (res: Parameters<Parameters<TemplatedApp['any']>[1]>[0]) => {
      const reply = new Reply(res);
      reply.json(
        405,
        { error: errorBody(ErrorCode.METHOD_NOT_ALLOWED, `allowed: ${allow}`) },
        { allow },
      );
    };

  route('POST', '/api/rooms', (r) => api.create(r), { body: true });
  route('GET', '/api/rooms', (r) => api.list(r));
  app.any('/api/rooms', notAllowed('GET, POST'));
  route('GET', '/api/rooms/:roomId', (r) => api.get(r), { roomId: true });
  route('PUT', '/api/rooms/:roomId', (r) => api.setStatus(r), { body: true, roomId: true });
  route('DELETE', '/api/rooms/:roomId', (r) => api.setStatus(r, 'ended'), { roomId: true });
  app.any('/api/rooms/:roomId', notAllowed('GET, PUT, DELETE'));
}
