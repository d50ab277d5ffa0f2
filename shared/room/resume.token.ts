/**
 * The resume token a member gets in `joined`: `<peerId>.<secret>`. The room service
 * makes it and keeps only the secret's hash; the gateway reads the peer id out of
 * it to route a `resume` before the room has checked it. Both sides use this module,
 * so the format is written once.
 */
import { createHash } from 'node:crypto';
import { isSubjectToken } from '../wire/subjects.js';

/** The parts of a resume token. */
export interface ResumeToken {
  peerId: string;
  secret: string;
}

/** Builds the token a member presents to resume. */
export function formatResumeToken(peerId: string, secret: string): string {
  return `${peerId}.${secret}`;
}

/** Reads a token; null when it is not `<peerId>.<secret>` with a subject-safe peer id. */
export function parseResumeToken(token: string): ResumeToken | null {
  const dot = token.indexOf('.');
  if (dot <= 0 || dot === token.length - 1) return null;
  const peerId = token.slice(0, dot);
  const secret = token.slice(dot + 1);
  if (!isSubjectToken(peerId) || secret.includes('.')) return null;
  return { peerId, secret };
}

/** What the room keeps of a secret: its SHA-256, hex. */
export function resumeSecretHash(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
