import t from 'tap';
import { deepStrictEqual } from 'node:assert';
import fc from 'fast-check';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ErrorCode } from './errors.js';
import {
  FrameError,
  clientFrameSchemas,
  compileFrameParser,
  type ClientFrame,
  type ProtocolLimits,
} from './protocol.js';

const limits: ProtocolLimits = { maxTokenBytes: 64, maxSdpBytes: 256, maxCandidateBytes: 128 };
const parse = compileFrameParser(limits);
const schemas: Record<string, TSchema> = clientFrameSchemas(limits);
/** The codes the parser may throw; anything else is a bug. */
const { BAD_JSON, BAD_FRAME, UNKNOWN_TYPE, TOKEN_INVALID } = ErrorCode;
const parserCodes: ReadonlySet<string> = new Set([
  BAD_JSON,
  BAD_FRAME,
  UNKNOWN_TYPE,
  TOKEN_INVALID,
]);

const cand = { candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host' };
const json = (v: unknown) => JSON.stringify(v);
const nested = (depth: number, open: string, close: string, inner = '1') =>
  open.repeat(depth) + inner + close.repeat(depth);

t.test('valid frames parse to exactly what was sent', async (t) => {
  const valid: ClientFrame[] = [
    { type: 'auth', token: 'a.b.c' },
    { type: 'join', room: 'r1', role: 'viewer' },
    { type: 'join', room: 'R_-9', role: 'publisher', id: 'j1' },
    { type: 'leave', room: 'r1', id: 0 },
    { type: 'offer', room: 'r1', to: 'p1', sdp: 'v=0' },
    { type: 'answer', room: 'r1', to: 'p1', sdp: 'x'.repeat(256) },
    { type: 'candidate', room: 'r1', to: 'p1', candidate: cand },
    {
      type: 'candidate',
      room: 'r1',
      to: 'p1',
      candidate: { candidate: '', sdpMid: null, sdpMLineIndex: null, usernameFragment: null },
    },
    {
      type: 'candidate',
      room: 'r1',
      to: 'p1',
      candidate: { ...cand, sdpMid: '0', sdpMLineIndex: 1024, usernameFragment: 'u' },
    },
    { type: 'resume', room: 'r1', resume: 'p1.secret' },
    { type: 'raise_hand', room: 'r1', id: 'h1' },
    { type: 'lower_hand', room: 'r1' },
    { type: 'invite', room: 'r1', peer: 'p1', id: 3 },
    { type: 'demote', room: 'r1', peer: 'p1' },
    { type: 'ping' },
    { type: 'ping', ts: -1.5, id: 'x'.repeat(64) },
    { type: 'ping', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    { type: 'ping', id: Number.MAX_SAFE_INTEGER },
  ];
  for (const frame of valid) t.same(parse(json(frame)), frame, json(frame).slice(0, 80));
});

t.test('bad frames are refused with a stable code', async (t) => {
  const cases: { name: string; text: string; code: ErrorCode; id?: string | number }[] = [
    // Not JSON at all.
    { name: 'empty', text: '', code: BAD_JSON },
    { name: 'truncated', text: '{"type":"ping"', code: BAD_JSON },
    { name: 'trailing comma', text: '{"type":"ping",}', code: BAD_JSON },
    { name: 'single quotes', text: "{'type':'ping'}", code: BAD_JSON },
    { name: 'NaN literal', text: '{"type":"ping","ts":NaN}', code: BAD_JSON },
    { name: 'byte order mark', text: '\uFEFF{"type":"ping"}', code: BAD_JSON },
    // JSON, but not a frame.
    { name: 'null', text: 'null', code: BAD_FRAME },
    { name: 'array', text: '[{"type":"ping"}]', code: BAD_FRAME },
    { name: 'number', text: '42', code: BAD_FRAME },
    { name: 'string', text: '"ping"', code: BAD_FRAME },
    { name: 'no type', text: '{"id":"a"}', code: BAD_FRAME, id: 'a' },
    { name: 'type not a string', text: '{"type":1}', code: BAD_FRAME },
    // Unknown types, including the names of Object.prototype members.
    { name: 'unknown type', text: '{"type":"nope","id":7}', code: UNKNOWN_TYPE, id: 7 },
    { name: 'server frame type', text: '{"type":"joined"}', code: UNKNOWN_TYPE },
    { name: 'type __proto__', text: '{"type":"__proto__"}', code: UNKNOWN_TYPE },
    { name: 'type constructor', text: '{"type":"constructor"}', code: UNKNOWN_TYPE },
    { name: 'type toString', text: '{"type":"toString"}', code: UNKNOWN_TYPE },
    { name: 'type hasOwnProperty', text: '{"type":"hasOwnProperty"}', code: UNKNOWN_TYPE },
    // Missing fields.
    { name: 'join without role', text: json({ type: 'join', room: 'r1' }), code: BAD_FRAME },
    { name: 'join without room', text: json({ type: 'join', role: 'viewer' }), code: BAD_FRAME },
    {
      name: 'offer without to',
      text: json({ type: 'offer', room: 'r', sdp: 's' }),
      code: BAD_FRAME,
    },
    {
      name: 'offer without sdp',
      text: json({ type: 'offer', room: 'r', to: 'p' }),
      code: BAD_FRAME,
    },
    {
      name: 'candidate without line',
      text: json({ type: 'candidate', room: 'r', to: 'p', candidate: { sdpMid: '0' } }),
      code: BAD_FRAME,
    },
    { name: 'resume without token', text: json({ type: 'resume', room: 'r' }), code: BAD_FRAME },
    { name: 'invite without peer', text: json({ type: 'invite', room: 'r' }), code: BAD_FRAME },
    { name: 'demote without peer', text: json({ type: 'demote', room: 'r' }), code: BAD_FRAME },
    { name: 'raise_hand without room', text: json({ type: 'raise_hand' }), code: BAD_FRAME },
    {
      name: 'raise_hand for another peer',
      text: json({ type: 'raise_hand', room: 'r', peer: 'p' }),
      code: BAD_FRAME,
    },
    {
      name: 'invite a peer id that is no subject token',
      text: json({ type: 'invite', room: 'r', peer: 'a.b' }),
      code: BAD_FRAME,
    },
    {
      name: 'join as a co-host (only an invitation makes one)',
      text: json({ type: 'join', room: 'r', role: 'cohost' }),
      code: BAD_FRAME,
    },
    // Wrongly typed fields.
    { name: 'room a number', text: json({ type: 'leave', room: 5 }), code: BAD_FRAME },
    {
      name: 'role unknown',
      text: json({ type: 'join', room: 'r', role: 'admin' }),
      code: BAD_FRAME,
    },
    { name: 'ts a string', text: json({ type: 'ping', ts: '1' }), code: BAD_FRAME },
    { name: 'ts overflows to Infinity', text: '{"type":"ping","ts":1e400}', code: BAD_FRAME },
    { name: 'id fractional', text: json({ type: 'ping', id: 1.5 }), code: BAD_FRAME },
    { name: 'id negative', text: json({ type: 'ping', id: -1 }), code: BAD_FRAME },
    { name: 'id empty', text: json({ type: 'ping', id: '' }), code: BAD_FRAME },
    { name: 'id too long', text: json({ type: 'ping', id: 'x'.repeat(65) }), code: BAD_FRAME },
    { name: 'id an object', text: json({ type: 'ping', id: { a: 1 } }), code: BAD_FRAME },
    { name: 'bad traceparent', text: json({ type: 'ping', traceparent: 'x' }), code: BAD_FRAME },
    {
      name: 'sdpMLineIndex negative',
      text: json({
        type: 'candidate',
        room: 'r',
        to: 'p',
        candidate: { ...cand, sdpMLineIndex: -1 },
      }),
      code: BAD_FRAME,
    },
    {
      name: 'candidate a string',
      text: json({ type: 'candidate', room: 'r', to: 'p', candidate: 'candidate:1' }),
      code: BAD_FRAME,
    },
    // Ids that could smuggle subject syntax into NATS.
    ...['a.b', 'r*', '>', 'a b', '', 'x'.repeat(65), 'é'].map((room) => ({
      name: `room id ${JSON.stringify(room.slice(0, 8))}`,
      text: json({ type: 'join', room, role: 'viewer' }),
      code: BAD_FRAME,
    })),
    {
      name: 'to with a dot',
      text: json({ type: 'offer', room: 'r', to: 'p.x', sdp: 's' }),
      code: BAD_FRAME,
    },
    // Extra fields, at the top and nested.
    {
      name: 'extra field',
      text: json({ type: 'ping', extra: 1, id: 'e' }),
      code: BAD_FRAME,
      id: 'e',
    },
    {
      name: 'userId claim',
      text: json({ type: 'join', room: 'r', role: 'viewer', userId: 'root' }),
      code: BAD_FRAME,
    },
    {
      name: 'from claim',
      text: json({ type: 'offer', room: 'r', to: 'p', sdp: 's', from: 'x' }),
      code: BAD_FRAME,
    },
    {
      name: 'extra in candidate',
      text: json({ type: 'candidate', room: 'r', to: 'p', candidate: { ...cand, x: 1 } }),
      code: BAD_FRAME,
    },
    {
      name: '__proto__ at top',
      text: '{"type":"ping","__proto__":{"admin":true}}',
      code: BAD_FRAME,
    },
    {
      name: 'constructor at top',
      text: '{"type":"ping","constructor":{"prototype":{}}}',
      code: BAD_FRAME,
    },
    {
      name: '__proto__ in candidate',
      text: '{"type":"candidate","room":"r","to":"p","candidate":{"candidate":"c","__proto__":{"x":1}}}',
      code: BAD_FRAME,
    },
    {
      name: 'constructor in candidate',
      text: '{"type":"candidate","room":"r","to":"p","candidate":{"candidate":"c","constructor":1}}',
      code: BAD_FRAME,
    },
    // Sizes.
    {
      name: 'sdp empty',
      text: json({ type: 'offer', room: 'r', to: 'p', sdp: '' }),
      code: BAD_FRAME,
    },
    {
      name: 'sdp over the limit',
      text: json({ type: 'answer', room: 'r', to: 'p', sdp: 'x'.repeat(257) }),
      code: BAD_FRAME,
    },
    {
      name: 'candidate over the limit',
      text: json({
        type: 'candidate',
        room: 'r',
        to: 'p',
        candidate: { candidate: 'x'.repeat(129) },
      }),
      code: BAD_FRAME,
    },
    {
      name: 'resume token too long',
      text: json({ type: 'resume', room: 'r', resume: 'x'.repeat(257) }),
      code: BAD_FRAME,
    },
    // A bad token is a bad token, however it is bad.
    {
      name: 'token too long',
      text: json({ type: 'auth', token: 'x'.repeat(65), id: 1 }),
      code: TOKEN_INVALID,
      id: 1,
    },
    { name: 'token empty', text: json({ type: 'auth', token: '' }), code: TOKEN_INVALID },
    { name: 'token missing', text: json({ type: 'auth' }), code: TOKEN_INVALID },
    { name: 'token a number', text: json({ type: 'auth', token: 5 }), code: TOKEN_INVALID },
    {
      name: 'auth with extra',
      text: json({ type: 'auth', token: 't', sub: 'x' }),
      code: BAD_FRAME,
    },
    // Deep nesting is refused, never a stack overflow.
    {
      name: '100k nested arrays',
      text: `{"type":"ping","ts":${nested(100_000, '[', ']')}}`,
      code: BAD_FRAME,
    },
    {
      name: '100k nested objects',
      text: `{"type":"ping","x":${nested(100_000, '{"a":', '}')}}`,
      code: BAD_FRAME,
    },
    {
      name: 'nested in candidate',
      text: `{"type":"candidate","room":"r","to":"p","candidate":{"candidate":${nested(50_000, '[', ']')}}}`,
      code: BAD_FRAME,
    },
    { name: 'nested top level', text: nested(100_000, '[', ']'), code: BAD_FRAME },
  ];
  for (const c of cases) {
    try {
      parse(c.text);
      t.fail(`${c.name}: accepted`);
    } catch (err) {
      t.ok(err instanceof FrameError, `${c.name}: a FrameError`);
      const e = err as FrameError;
      t.equal(e.code, c.code, `${c.name}: ${e.message}`);
      t.equal(e.frameId, c.id, `${c.name}: id echoed when readable`);
      t.ok(e.message.length > 0 && e.message.length <= 200, `${c.name}: a bounded message`);
    }
  }
});

t.test('a refusal names the field', async (t) => {
  const err = (text: string) => {
    try {
      parse(text);
    } catch (e) {
      return (e as FrameError).message;
    }
    return 'accepted';
  };
  t.match(err(json({ type: 'answer', room: 'r', to: 'p', sdp: 'x'.repeat(257) })), /^\/sdp: /);
  t.match(err(json({ type: 'join', room: 'r', role: 'x' })), /^\/role: /);
  t.match(err(json({ type: 'ping', extra: 1 })), /extra|additional|property/i);
  t.match(err('{"type":"x".repeat}'), /not valid JSON/);
});

/** Frame-shaped values: mostly the right keys with values of any kind, sometimes the right values. */
const frameLike = fc.record(
  {
    type: fc.oneof(
      fc.constantFrom(...Object.keys(schemas)),
      fc.constantFrom('__proto__', 'constructor', 'joined', ''),
      fc.string(),
    ),
    room: fc.oneof(fc.constantFrom('r1', 'a.b', ''), fc.jsonValue()),
    to: fc.oneof(fc.constantFrom('p1', '*'), fc.jsonValue()),
    role: fc.oneof(fc.constantFrom('viewer', 'publisher'), fc.jsonValue()),
    sdp: fc.oneof(fc.string({ maxLength: 300 }), fc.jsonValue()),
    token: fc.oneof(fc.string({ maxLength: 80 }), fc.jsonValue()),
    resume: fc.string({ maxLength: 10 }),
    ts: fc.oneof(fc.double(), fc.jsonValue()),
    id: fc.oneof(fc.string({ maxLength: 70 }), fc.integer(), fc.double()),
    candidate: fc.oneof(
      fc.record(
        {
          candidate: fc.oneof(fc.string({ maxLength: 140 }), fc.jsonValue()),
          sdpMid: fc.oneof(fc.constant(null), fc.string({ maxLength: 70 })),
          sdpMLineIndex: fc.oneof(fc.constant(null), fc.integer({ min: -2, max: 2000 })),
          extra: fc.jsonValue(),
        },
        { requiredKeys: [] },
      ),
      fc.jsonValue(),
    ),
    constructor: fc.jsonValue(),
    extra: fc.jsonValue(),
  },
  { requiredKeys: ['type'] },
);

/** Keys of `value` that the schema does not name, at any depth. */
function extraKeys(schema: TSchema, value: unknown): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  const props = (schema as { properties?: Record<string, TSchema> }).properties;
  if (props === undefined) {
    const anyOf = (schema as { anyOf?: TSchema[] }).anyOf ?? [];
    return anyOf.some((s) => extraKeys(s, value).length === 0) ? [] : ['(no branch)'];
  }
  return Object.getOwnPropertyNames(value).flatMap((k) =>
    Object.hasOwn(props, k)
      ? extraKeys(props[k] as TSchema, (value as Record<string, unknown>)[k])
      : [k],
  );
}

function checkParse(text: string): void {
  let frame: ClientFrame;
  try {
    frame = parse(text);
  } catch (err) {
    if (!(err instanceof FrameError) || !parserCodes.has(err.code)) throw err;
    return;
  }
  const schema = schemas[frame.type];
  if (schema === undefined) throw new Error(`accepted unknown type ${frame.type}`);
  if (!Value.Check(schema, frame)) throw new Error(`accepted a frame off its schema: ${text}`);
  const extra = extraKeys(schema, frame);
  if (extra.length > 0) throw new Error(`accepted extra keys ${extra.join(',')}: ${text}`);
}

t.test(
  'property: any input is a schema-exact frame or a FrameError with a known code',
  async (t) => {
    const inputs = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.json({ maxDepth: 6 }),
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
      frameLike.map((v) => JSON.stringify(v)),
      // `__proto__` as an own key, at the top or in `candidate`: only raw text makes one.
      frameLike.map((v) => JSON.stringify(v).replaceAll('"extra":', '"__proto__":')),
    );
    fc.assert(fc.property(inputs, checkParse), { numRuns: 5000 });
    t.pass('5000 inputs');
  },
);

t.test('property: every frame that fits its schema is accepted unchanged', async (t) => {
  const sdp = fc.string({ minLength: 1, maxLength: 256 });
  const id = fc.constantFrom('r1', 'p_2', 'A-b');
  const valid = fc.oneof(
    fc.record({
      type: fc.constant('join'),
      room: id,
      role: fc.constantFrom('viewer', 'publisher'),
    }),
    fc.record({ type: fc.constantFrom('offer', 'answer'), room: id, to: id, sdp }),
    fc.record({
      type: fc.constant('candidate'),
      room: id,
      to: id,
      candidate: fc.record(
        {
          candidate: fc.string({ maxLength: 128 }),
          sdpMid: fc.option(fc.string({ maxLength: 64 })),
          sdpMLineIndex: fc.option(fc.integer({ min: 0, max: 1024 })),
        },
        { requiredKeys: ['candidate'] },
      ),
    }),
    fc.record(
      {
        type: fc.constant('ping'),
        ts: fc.double({ noNaN: true, noDefaultInfinity: true }),
        id: fc.oneof(fc.string({ minLength: 1, maxLength: 64 }), fc.nat()),
      },
      { requiredKeys: ['type'] },
    ),
  );
  fc.assert(
    fc.property(valid, (frame) => {
      // Compared with what JSON carries (-0 travels as 0).
      const text = JSON.stringify(frame);
      deepStrictEqual(parse(text), JSON.parse(text));
    }),
    { numRuns: 1000 },
  );
  t.pass('1000 valid frames');
});
