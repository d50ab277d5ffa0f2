import t from 'tap';
import fc from 'fast-check';
import {
  decodeSignalFrame,
  encodeSignalFrame,
  signalFrameType,
  type OutgoingSignal,
} from './signal.frame.js';

const id = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
const signal: fc.Arbitrary<OutgoingSignal> = fc.oneof(
  fc.record(
    {
      type: fc.constantFrom('offer' as const, 'answer' as const),
      room: id,
      to: id,
      sdp: fc.string(),
      id: fc.string(),
    },
    { requiredKeys: ['type', 'room', 'to', 'sdp'] },
  ),
  fc.record({
    type: fc.constant('candidate' as const),
    room: id,
    to: id,
    candidate: fc.record(
      {
        candidate: fc.string(),
        sdpMid: fc.option(fc.string(), { nil: null }),
        sdpMLineIndex: fc.option(fc.nat(), { nil: null }),
      },
      { requiredKeys: ['candidate'] },
    ),
  }),
);

t.test('a frame round-trips, and its type reads off its bytes', (t) => {
  fc.assert(
    fc.property(signal, id, (frame, from) => {
      const encoded = encodeSignalFrame(frame, from);
      const bytes = Buffer.from(encoded);
      t.equal(signalFrameType(bytes), frame.type);
      // Only what the addressee needs is relayed: not `to`, `id` or `traceparent`.
      const expected =
        frame.type === 'candidate'
          ? { type: frame.type, room: frame.room, from, candidate: frame.candidate }
          : { type: frame.type, room: frame.room, from, sdp: frame.sdp };
      t.same(decodeSignalFrame(bytes), expected);
      t.same(decodeSignalFrame(encoded), expected);
    }),
  );
  t.end();
});

// Only frames made by encodeSignalFrame are read: the reader trusts the key order.
t.test('other frame types read as other', (t) => {
  for (const other of ['', '{}', '{"type":"joined"}', '{"type":"kicked"}'])
    t.equal(signalFrameType(Buffer.from(other)), 'other', other);
  t.end();
});
