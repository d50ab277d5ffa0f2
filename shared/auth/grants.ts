/**
 * Room grants: what a verified token allows, read from its `roomcast` claim.
 *
 * ```json
 * { "sub": "alice", "roomcast": { "publish": ["r1"], "view": ["*"], "admin": [], "create": true } }
 * ```
 * Each list names room ids, or `*` for every room. The room's owner may always
 * publish, view and administer it; a public room may be viewed by anyone with a
 * valid token; a private one only by its owner and those the token names.
 *
 * An operator is a token that administers every room (`"admin": ["*"]`): it may
 * also read what concerns the whole system, such as `GET /api/alerts`.
 */
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

const RoomList = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 256 });

/** Schema of the `roomcast` claim (unknown keys are ignored: tokens may carry more). */
export const GrantsClaim = Type.Object({
  publish: Type.Optional(RoomList),
  view: Type.Optional(RoomList),
  admin: Type.Optional(RoomList),
  create: Type.Optional(Type.Boolean()),
});
export type GrantsClaim = Static<typeof GrantsClaim>;
const grantsCheck = TypeCompiler.Compile(GrantsClaim);

/** Grants of one verified user, normalised. */
export interface Grants {
  publish: readonly string[];
  view: readonly string[];
  admin: readonly string[];
  create: boolean;
}

/** What a user's token allows in one room (ownership is decided by the room). */
export interface RoomPerms {
  publish: boolean;
  view: boolean;
  admin: boolean;
}

/** One shared empty list: each of 10,000 connections need not keep its own. */
const NONE: readonly string[] = Object.freeze([]);

/** Reads the claim; `undefined` when it is present but malformed. */
export function readGrants(claim: unknown): Grants | undefined {
  if (claim === undefined) return { publish: NONE, view: NONE, admin: NONE, create: false };
  if (!grantsCheck.Check(claim)) return undefined;
  return {
    publish: claim.publish ?? NONE,
    view: claim.view ?? NONE,
    admin: claim.admin ?? NONE,
    create: claim.create ?? false,
  };
}

const names = (list: readonly string[], roomId: string): boolean =>
  list.includes(roomId) || list.includes('*');

/** The grants of `grants` that apply to `roomId`. */
export function permsFor(grants: Grants, roomId: string): RoomPerms {
  return {
    publish: names(grants.publish, roomId),
    view: names(grants.view, roomId),
    admin: names(grants.admin, roomId),
  };
}

/** True for an operator: the token administers every room (`"admin": ["*"]`). */
export function isOperator(grants: Grants): boolean {
  return grants.admin.includes('*');
}
