/** Sources of everything the room machine must not make itself: the time and new ids. */
import { randomBytes } from 'node:crypto';

export interface RoomEnvironment {
  now(): number;
  /** A new id that is a valid subject token. */
  id(bytes: number): string;
}

export const systemEnvironment: RoomEnvironment = {
  now: () => Date.now(),
  id: (bytes) => randomBytes(bytes).toString('base64url'),
};
