/**
 * `POST /api/revocations`, for administrators (an operator token: `"admin": ["*"]`):
 * - `{"userId": "alice"}`: every token of alice issued up to now is refused, and her
 *   sockets on every gateway close with 4401 within a second; her SRS clients are kicked.
 * - `{"jti": "<token id>", "exp": <unix s>}`: that one token, until its `exp`.
 * Answers 202 `{revoked: ...}`; 400 (BAD_JSON / BAD_FRAME), 401, 403 (NOT_ALLOWED).
 */
import type { TemplatedApp } from 'uWebSockets.js';
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { isOperator } from '#shared/auth/grants.js';
import { ErrorCode, RoomcastError } from '#shared/wire/errors.js';
import { SUBJECT_TOKEN_PATTERN } from '#shared/wire/subjects.js';
import { authenticatedRoute, readBody, type HttpContext } from './gateway.http.js';
import type { GatewayRevocations } from './gateway.revocations.js';

const Id = Type.String({ pattern: SUBJECT_TOKEN_PATTERN });
const RevokeBody = Type.Union([
  Type.Object({ userId: Id }, { additionalProperties: false }),
  Type.Object(
    { jti: Id, exp: Type.Integer({ minimum: 0, maximum: 2 ** 40 }) },
    { additionalProperties: false },
  ),
]);
const revokeCheck = TypeCompiler.Compile(RevokeBody);

export function registerRevocationRoutes(
  app: TemplatedApp,
  ctx: HttpContext,
  revocations: GatewayRevocations,
): void {
  authenticatedRoute(
    app,
    ctx,
    'POST',
    '/api/revocations',
    (_req, reply) => {
      const body = readBody(reply, ctx.config.gateway.maxBodyBytes);
      // Awaited after authentication; an early TOO_LARGE must not go unhandled.
      body.catch(() => undefined);
      return body;
    },
    async (identity, body, reply) => {
      if (!isOperator(identity.grants)) {
        throw new RoomcastError(ErrorCode.NOT_ALLOWED, 'revoking needs "admin": ["*"]');
      }
      let value: unknown;
      try {
        value = JSON.parse((await body).toString('utf8'));
      } catch (err) {
        if (err instanceof RoomcastError) throw err;
        throw new RoomcastError(ErrorCode.BAD_JSON, 'body is not valid JSON');
      }
      if (!revokeCheck.Check(value)) {
        throw new RoomcastError(
          ErrorCode.BAD_FRAME,
          'body: {"userId": <id>} or {"jti": <id>, "exp": <unix s>}',
        );
      }
      const revoked =
        'userId' in value
          ? {
              userId: value.userId,
              ...(await revocations.revokeUser(value.userId, Date.now() / 1000)),
            }
          : { jti: value.jti, ...(await revocations.revokeToken(value.jti, value.exp)) };
      reply.json(202, { revoked });
    },
  );
}
