/**
 * The peer-to-peer frame one gateway relays to another (on `room.<id>.signal.<peer>`)
 * and hands to the addressed client as it is: `offer`, `answer` or `candidate`,
 * with the sender's peer id in `from`.
 *
 * What must hold: the encoding starts with `{"type":"`, so the receiving gateway
 * reads the frame's type off its tenth byte (`signalFrameType`) without decoding
 * it: at the relay rate, decoding a frame only to count it costs more than relaying
 * it. The encoder and that reader live here together so they cannot drift apart.
 */
import type { ClientFrameOf, ServerFrame } from './protocol.js';

/** The types of peer-to-peer frames. */
export type SignalType = 'offer' | 'answer' | 'candidate';

/** A relayed frame as the addressed client receives it. */
export type SignalFrame = Extract<ServerFrame, { type: SignalType }>;

/** A client's frame to relay, as the gateway validated it. */
export type OutgoingSignal = ClientFrameOf<SignalType>;

/** Length of `{"type":"`: the byte after it is the first letter of the type. */
const TYPE_LETTER_AT = 9;
const LETTER_O = 0x6f;
const LETTER_A = 0x61;
const LETTER_C = 0x63;

/** The frame `from` sends, serialized for the addressee, `type` first (see `signalFrameType`). */
export function encodeSignalFrame(frame: OutgoingSignal, from: string): string {
  // Built field by field rather than spread: the key order is the format.
  return frame.type === 'candidate'
    ? JSON.stringify({
        type: 'candidate',
        room: frame.room,
        from,
        candidate: frame.candidate,
      })
    : JSON.stringify({ type: frame.type, room: frame.room, from, sdp: frame.sdp });
}

/** The type of an encoded signal frame, read off its bytes; `other` for anything else. */
export function signalFrameType(data: Uint8Array): SignalType | 'other' {
  const letter = data[TYPE_LETTER_AT];
  if (letter === LETTER_C) return 'candidate';
  if (letter === LETTER_O) return 'offer';
  if (letter === LETTER_A) return 'answer';
  return 'other';
}

/** Decodes a whole signal frame (clients and tests; the gateway itself only reads the type). */
export function decodeSignalFrame(data: Uint8Array | string): SignalFrame {
  const text = typeof data === 'string' ? data : new TextDecoder().decode(data);
  return JSON.parse(text) as SignalFrame;
}
