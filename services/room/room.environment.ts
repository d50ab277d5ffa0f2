/** Sources of everything the room machine must not make itself: the time and new ids. */
import { randomFillSync } from 'node:crypto';

export interface RoomEnvironment {
  now(): number;
  /** A new id that is a valid subject token. */
  id(bytes: number): string;
}

/**
 * Random bytes drawn 4 KiB at a time: every join needs a resume secret, and one
 * `randomBytes(24)` call per join cost about as much as the rest of the join's
 * reducer work (a system call and a buffer each). The bytes are as random.
 */
const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let used = POOL_BYTES;

function randomId(bytes: number): string {
  if (bytes > POOL_BYTES) return randomFillSync(Buffer.alloc(bytes)).toString('base64url');
  if (used + bytes > POOL_BYTES) {
    randomFillSync(pool);
    used = 0;
  }
  const id = pool.toString('base64url', used, used + bytes);
  used += bytes;
  return id;
}

export const systemEnvironment: RoomEnvironment = {
  now: () => Date.now(),
  id: randomId,
};
