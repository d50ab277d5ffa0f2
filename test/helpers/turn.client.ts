/**
 * The smallest TURN client a test needs (RFC 5766 Allocate over UDP, RFC 5389
 * long-term credentials): asks a TURN server for a relay with a username and
 * password, and says what it answered. A test that must know *why* coturn refused
 * (401 and not a lost packet) uses this rather than a browser, which only shows that
 * no relay candidate came.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';

const MAGIC = 0x2112a442;
const ALLOCATE = 0x0003;
const ALLOCATE_OK = 0x0103;
const ALLOCATE_ERROR = 0x0113;
const Attr = {
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  REALM: 0x0014,
  NONCE: 0x0015,
  XOR_RELAYED_ADDRESS: 0x0016,
  REQUESTED_TRANSPORT: 0x0019,
} as const;

/** What the server answered the authenticated Allocate. */
export type AllocateResult = { ok: true } | { ok: false; code: number; reason: string };

interface Message {
  type: number;
  attrs: Map<number, Buffer>;
}

function encode(type: number, tid: Buffer, attrs: [number, Buffer][], key?: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (const [t, v] of attrs) {
    const head = Buffer.alloc(4);
    head.writeUInt16BE(t, 0);
    head.writeUInt16BE(v.length, 2);
    parts.push(head, v, Buffer.alloc((4 - (v.length % 4)) % 4));
  }
  const body = Buffer.concat(parts);
  const header = Buffer.alloc(20);
  header.writeUInt16BE(type, 0);
  header.writeUInt32BE(MAGIC, 4);
  tid.copy(header, 8);
  if (key === undefined) {
    header.writeUInt16BE(body.length, 2);
    return Buffer.concat([header, body]);
  }
  // MESSAGE-INTEGRITY covers the message with its length already counting the attribute.
  header.writeUInt16BE(body.length + 24, 2);
  const mac = createHmac('sha1', key)
    .update(Buffer.concat([header, body]))
    .digest();
  const mi = Buffer.alloc(4);
  mi.writeUInt16BE(Attr.MESSAGE_INTEGRITY, 0);
  mi.writeUInt16BE(20, 2);
  return Buffer.concat([header, body, mi, mac]);
}

function decode(buf: Buffer): (Message & { tid: Buffer }) | undefined {
  if (buf.length < 20 || buf.readUInt32BE(4) !== MAGIC) return undefined;
  const attrs = new Map<number, Buffer>();
  const end = Math.min(buf.length, 20 + buf.readUInt16BE(2));
  for (let at = 20; at + 4 <= end;) {
    const len = buf.readUInt16BE(at + 2);
    attrs.set(buf.readUInt16BE(at), buf.subarray(at + 4, at + 4 + len));
    at += 4 + len + ((4 - (len % 4)) % 4);
  }
  return { type: buf.readUInt16BE(0), tid: buf.subarray(8, 20), attrs };
}

/** Sends `build(tid)` until an answer with that transaction id comes (UDP may lose either). */
function transact(socket: Socket, host: string, port: number, build: (tid: Buffer) => Buffer) {
  const tid = randomBytes(12);
  const packet = build(tid);
  return new Promise<Message>((resolve, reject) => {
    let tries = 0;
    const done = () => {
      clearTimeout(timer);
      socket.off('message', onMessage);
      socket.off('error', onError);
    };
    const send = () => {
      if (tries++ >= 8) {
        done();
        reject(new Error(`no TURN answer from ${host}:${port}`));
        return;
      }
      socket.send(packet, port, host);
      timer = setTimeout(send, 250 * tries);
    };
    const onMessage = (data: Buffer) => {
      const m = decode(data);
      if (m === undefined || !m.tid.equals(tid)) return;
      done();
      resolve(m);
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    socket.on('message', onMessage);
    socket.on('error', onError);
    let timer = setTimeout(send, 0);
  });
}

const errorOf = (m: Message) => {
  const v = m.attrs.get(Attr.ERROR_CODE) ?? Buffer.alloc(4);
  return {
    code: (v[2] ?? 0) * 100 + (v[3] ?? 0),
    reason: v.subarray(4).toString().replace(/\0+$/, ''),
  };
};

/** Allocates a UDP relay on the TURN server at `host:port` as `username` / `password`. */
export async function turnAllocate(
  host: string,
  port: number,
  username: string,
  password: string,
): Promise<AllocateResult> {
  // One socket for both requests: coturn binds the nonce to the client's address and port.
  const socket = createSocket('udp4');
  try {
    return await allocate(socket, host, port, username, password);
  } finally {
    socket.close();
  }
}

async function allocate(
  socket: Socket,
  host: string,
  port: number,
  username: string,
  password: string,
): Promise<AllocateResult> {
  const udp = Buffer.from([17, 0, 0, 0]);
  // The first Allocate, without credentials, is answered 401 with the realm and a nonce.
  const challenge = await transact(socket, host, port, (tid) =>
    encode(ALLOCATE, tid, [[Attr.REQUESTED_TRANSPORT, udp]]),
  );
  const realm = challenge.attrs.get(Attr.REALM);
  const nonce = challenge.attrs.get(Attr.NONCE);
  if (challenge.type !== ALLOCATE_ERROR || realm === undefined || nonce === undefined)
    throw new Error(`unexpected answer to an Allocate without credentials: ${challenge.type}`);
  const key = createHash('md5').update(`${username}:${realm.toString()}:${password}`).digest();
  const answer = await transact(socket, host, port, (tid) =>
    encode(
      ALLOCATE,
      tid,
      [
        [Attr.REQUESTED_TRANSPORT, udp],
        [Attr.USERNAME, Buffer.from(username)],
        [Attr.REALM, realm],
        [Attr.NONCE, nonce],
      ],
      key,
    ),
  );
  if (answer.type === ALLOCATE_OK && answer.attrs.has(Attr.XOR_RELAYED_ADDRESS))
    return { ok: true };
  if (answer.type === ALLOCATE_ERROR) return { ok: false, ...errorOf(answer) };
  throw new Error(`unexpected answer to an Allocate: ${answer.type}`);
}
