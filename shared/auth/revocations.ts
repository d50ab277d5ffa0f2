/**
 * Revocations: an administrator ends a user's sessions (every token of that user
 * issued up to a moment) or one token (`jti`). They live in the KV bucket
 * `revocations`, created by the gateway with a max age of AUTH_MAX_TOKEN_TTL_S (plus
 * the clock tolerance): no token a revocation names outlives it, so each one expires
 * with the tokens it names and the bucket never grows without bound.
 *
 * Keys: `user.<userId>` → `{"before": <unix s>}` (tokens with `iat` at or before it,
 * or without `iat`, are revoked) and `jti.<tokenId>` → `{"exp": <unix s>}`.
 * The gateway writes and watches; the stream service only watches.
 */
import { Kvm, KvWatchInclude, type KV, type KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { bucketNames } from '../runtime/streams.js';
import type { Logger } from '../runtime/log.js';
import { isSubjectToken } from '../wire/subjects.js';
import type { TokenFacts } from './token.verify.js';

/** The KV keys of a revocation (user ids and token ids are subject tokens: safe as keys). */
export const revocationKeys = {
  user: (userId: string): string => `user.${userId}`,
  token: (tokenId: string): string => `jti.${tokenId}`,
} as const;

/** The stored value of `user.<id>`. */
export interface UserRevocation {
  /** Unix seconds: tokens issued at or before it are revoked. */
  before: number;
}

/** The stored value of `jti.<id>`. */
export interface TokenRevocation {
  /** Unix seconds: when the revoked token expires anyway. */
  exp: number;
}

/** The revocations a process knows: a cache of the bucket, asked on every token. */
export class RevocationList {
  private readonly users = new Map<string, number>();
  private readonly tokens = new Map<string, number>();

  /** True when `t` is revoked: its user's sessions up to its `iat`, or its `jti`. */
  isRevoked(t: TokenFacts): boolean {
    const before = this.users.get(t.userId);
    if (before !== undefined && (t.issuedAt === undefined || t.issuedAt / 1000 <= before))
      return true;
    return t.tokenId !== undefined && this.tokens.has(t.tokenId);
  }

  /** Applies one bucket entry (a put, or a delete that lifts a revocation). */
  apply(e: Pick<KvEntry, 'key' | 'operation' | 'value'>): void {
    const [kind, id] = splitKey(e.key);
    const map = kind === 'user' ? this.users : kind === 'jti' ? this.tokens : undefined;
    if (map === undefined || id === undefined) return;
    if (e.operation !== 'PUT') {
      map.delete(id);
      return;
    }
    const v = parseValue(e.value);
    const at = kind === 'user' ? v?.before : v?.exp;
    if (typeof at === 'number' && Number.isFinite(at)) map.set(id, at);
  }

  /** Forgets what can no longer name a live token (the bucket's max age does the same). */
  prune(nowS: number, maxAgeS: number): void {
    for (const [id, before] of this.users) if (before < nowS - maxAgeS) this.users.delete(id);
    for (const [id, exp] of this.tokens) if (exp < nowS - maxAgeS) this.tokens.delete(id);
  }
}

function splitKey(key: string): [string, string | undefined] {
  const dot = key.indexOf('.');
  return dot < 0 ? [key, undefined] : [key.slice(0, dot), key.slice(dot + 1)];
}

function parseValue(data: Uint8Array): Partial<UserRevocation & TokenRevocation> | undefined {
  try {
    const v: unknown = JSON.parse(new TextDecoder().decode(data));
    return typeof v === 'object' && v !== null ? v : undefined;
  } catch {
    return undefined;
  }
}

/** How long a revocation is kept, in s: as long as any token it names may still be taken. */
export function revocationMaxAgeS(auth: { maxTokenTtlS: number; clockToleranceS: number }): number {
  return auth.maxTokenTtlS + auth.clockToleranceS;
}

/** Creates (or opens) the bucket: the gateway's job. */
export function createRevocationBucket(
  nc: NatsConnection,
  maxAgeS: number,
  replicas = 1,
): Promise<KV> {
  return new Kvm(nc).create(bucketNames.revocations, {
    ttl: maxAgeS * 1000,
    history: 1,
    replicas,
  });
}

/** Opens the bucket without creating it (a reader's way: the stream service may not create). */
export function openRevocationBucket(nc: NatsConnection): Promise<KV> {
  return new Kvm(nc).open(bucketNames.revocations);
}

/** Writes revocations; answers what it stored. */
export class RevocationWriter {
  constructor(private readonly kv: KV) {}

  /** Revokes every token of `userId` issued at or before `nowS`. */
  async revokeUser(userId: string, nowS: number): Promise<UserRevocation> {
    if (!isSubjectToken(userId)) throw new RangeError('userId is not an id');
    const value: UserRevocation = { before: Math.floor(nowS) };
    await this.kv.put(revocationKeys.user(userId), JSON.stringify(value));
    return value;
  }

  /** Revokes one token by its `jti`; `exp` (unix s) says when it would expire anyway. */
  async revokeToken(tokenId: string, exp: number): Promise<TokenRevocation> {
    if (!isSubjectToken(tokenId)) throw new RangeError('jti is not an id');
    const value: TokenRevocation = { exp: Math.floor(exp) };
    await this.kv.put(revocationKeys.token(tokenId), JSON.stringify(value));
    return value;
  }
}

export interface RevocationWatchOptions {
  /** Opens the bucket (creating it or not: the caller's permission decides). */
  open: () => Promise<KV>;
  list: RevocationList;
  log: Logger;
  /** Called after each entry the watch applied: check what is open now against the list. */
  onChange: () => void;
  /** How long a revocation matters (revocationMaxAgeS), for pruning the list. */
  maxAgeS: number;
  /** Between two tries to open a bucket that does not exist yet, in ms. */
  retryMs?: number;
}

/**
 * Keeps a RevocationList in step with the bucket. `start` resolves once what the
 * bucket held has been loaded (a new process refuses revoked tokens from its
 * first one); a bucket that does not exist yet is tried again until it does.
 */
export class RevocationWatch {
  private stopped = false;
  private iter: { stop(): void } | undefined;
  private retry: NodeJS.Timeout | undefined;
  private warned = false;

  constructor(private readonly o: RevocationWatchOptions) {}

  start(): Promise<void> {
    return new Promise((ready) => {
      const attempt = (): void => {
        if (this.stopped) {
          ready();
          return;
        }
        this.watch(ready).catch((err: unknown) => {
          // Once: a reader started before the gateway created the bucket tries every second.
          if (!this.warned)
            this.o.log.warn('revocations bucket not watchable yet; trying again', { err });
          this.warned = true;
          this.retry = setTimeout(attempt, this.o.retryMs ?? 1000);
        });
      };
      attempt();
    });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.iter?.stop();
  }

  private async watch(ready: () => void): Promise<void> {
    const kv = await this.o.open();
    const { values } = await kv.status();
    const iter = await kv.watch({ key: '>', include: KvWatchInclude.LastValue });
    this.iter = iter;
    if (this.stopped) iter.stop();
    if (values === 0) ready();
    void (async () => {
      for await (const e of iter) {
        this.o.list.apply(e);
        this.o.list.prune(Date.now() / 1000, this.o.maxAgeS);
        this.o.onChange();
        // The last entry of the initial load has nothing pending after it.
        if (e.delta === 0) ready();
      }
    })().catch((err: unknown) => this.o.log.warn('revocations watch ended', { err }));
  }
}
