/**
 * A hand-written check of the client frame union, for the validator benchmark
 * only: the same rules as the TypeBox schemas in shared/wire/protocol.ts (which stay
 * the contract), written as straight-line code with no allocation.
 *
 * Its input is what `JSON.parse` returns, so "own property names" and "keys that
 * `for...in` sees" are the same thing here.
 */
import type { ClientFrame, ProtocolLimits } from '#shared/wire/protocol.js';
import { SUBJECT_TOKEN_PATTERN } from '#shared/wire/subjects.js';

const ID = new RegExp(SUBJECT_TOKEN_PATTERN);
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown): boolean => typeof v === 'string' && ID.test(v);
const isInt = (v: unknown, min: number, max: number): boolean =>
  Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
const isStr = (v: unknown, min: number, max: number): boolean =>
  typeof v === 'string' && v.length >= min && v.length <= max;
const nullableStr = (v: unknown, max: number): boolean =>
  v === undefined || v === null || isStr(v, 0, max);

/** `id` and `traceparent`, which every frame may carry. */
function commonOk(v: Obj): boolean {
  const id = v.id;
  if (id !== undefined && !isStr(id, 1, 64) && !isInt(id, 0, Number.MAX_SAFE_INTEGER)) return false;
  const tp = v.traceparent;
  return tp === undefined || (typeof tp === 'string' && TRACEPARENT.test(tp));
}

/** True when every key of `v` is `type`, `id`, `traceparent` or one of `allowed`. */
function onlyKeys(v: Obj, allowed: readonly string[]): boolean {
  for (const k in v) {
    if (k === 'type' || k === 'id' || k === 'traceparent') continue;
    if (!allowed.includes(k)) return false;
  }
  return true;
}

const JOIN = ['room', 'role'] as const;
const LEAVE = ['room'] as const;
const SDP = ['room', 'to', 'sdp'] as const;
const CANDIDATE = ['room', 'to', 'candidate'] as const;
const RESUME = ['room', 'resume'] as const;
const AUTH = ['token'] as const;
const PING = ['ts'] as const;

/** The check for each frame type, for the given limits. */
export function handChecks(limits: ProtocolLimits): Record<string, (v: unknown) => boolean> {
  const ice = (c: unknown): boolean => {
    if (!isObject(c)) return false;
    for (const k in c) {
      if (k !== 'candidate' && k !== 'sdpMid' && k !== 'sdpMLineIndex' && k !== 'usernameFragment')
        return false;
    }
    const line = c.candidate;
    if (typeof line !== 'string' || line.length > limits.maxCandidateBytes) return false;
    const m = c.sdpMLineIndex;
    return (
      nullableStr(c.sdpMid, 64) &&
      (m === undefined || m === null || isInt(m, 0, 1024)) &&
      nullableStr(c.usernameFragment, 256)
    );
  };
  const sdp = (v: Obj) =>
    onlyKeys(v, SDP) && isId(v.room) && isId(v.to) && isStr(v.sdp, 1, limits.maxSdpBytes);
  const checks: Record<string, (v: Obj) => boolean> = {
    auth: (v) => onlyKeys(v, AUTH) && isStr(v.token, 1, limits.maxTokenBytes),
    join: (v) =>
      onlyKeys(v, JOIN) && isId(v.room) && (v.role === 'publisher' || v.role === 'viewer'),
    leave: (v) => onlyKeys(v, LEAVE) && isId(v.room),
    offer: sdp,
    answer: sdp,
    candidate: (v) => onlyKeys(v, CANDIDATE) && isId(v.room) && isId(v.to) && ice(v.candidate),
    resume: (v) => onlyKeys(v, RESUME) && isId(v.room) && isStr(v.resume, 1, 256),
    ping: (v) => onlyKeys(v, PING) && (v.ts === undefined || Number.isFinite(v.ts)),
  };
  const out: Record<string, (v: unknown) => boolean> = {};
  for (const [type, check] of Object.entries(checks)) {
    out[type] = (v: unknown): v is ClientFrame =>
      isObject(v) && v.type === type && check(v) && commonOk(v);
  }
  return out;
}
