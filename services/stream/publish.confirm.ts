/**
 * Publish confirmation: an accepted on_publish is not proof of a live stream (SRS
 * asks the hook before it checks whether the stream is busy), so the granted client
 * is confirmed to the room only once the SRS API shows it publishing, and released
 * when it does not. Also remembers the clients let go lately, so that a list read
 * before that does not bring them back.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { CallOptions, CommandArgs } from '#shared/room/room.client.js';
import type { StreamStopReason } from '#shared/room/room.events.js';
import type { SrsStream } from './srs.api.js';
import type { SrsHook } from './srs.hooks.js';
import type { RoomWatch } from './room.watch.js';
import { ignoreRefusal } from './room.refusal.js';
import type { StreamContext } from './stream.context.js';

export class PublishConfirmer {
  /** Confirmation loops of granted publishers, by SRS client id: the room and since when. */
  private readonly confirming = new Map<
    string,
    { ac: AbortController; roomId: string; since: number }
  >();
  /**
   * SRS clients whose on_unpublish/on_stop (or denial) this service handled lately,
   * with when: a list read before that must not bring them back.
   */
  private readonly recentlyGone = new Map<string, number>();

  constructor(
    private readonly svc: StreamContext,
    private readonly watch: RoomWatch,
  ) {}

  /** Stops every confirmation loop. */
  stop(): void {
    for (const c of this.confirming.values()) c.ac.abort();
  }

  /**
   * When the oldest grant of `roomId` still in its confirmation window was answered,
   * or undefined. A WebRTC publisher is listed `publish.active: false` until its DTLS
   * completes (seconds, on a slow peer): until the window closes, only the
   * confirmation loop judges it, never a reconcile round.
   */
  confirmingSince(roomId: string): number | undefined {
    let since: number | undefined;
    for (const c of this.confirming.values())
      if (c.roomId === roomId && (since === undefined || c.since < since)) since = c.since;
    return since;
  }

  /** The client is gone (or denied): no confirmation for it, and no comeback from old lists. */
  forget(clientId: string): void {
    this.confirming.get(clientId)?.ac.abort();
    this.confirming.delete(clientId);
    this.recentlyGone.set(clientId, this.svc.now());
  }

  /** Whether this service let `clientId` go lately. */
  isRecentlyGone(clientId: string): boolean {
    return this.recentlyGone.has(clientId);
  }

  /** Forgets the clients let go before `horizon` (ms since the epoch). */
  pruneGone(horizon: number): void {
    for (const [id, at] of this.recentlyGone) if (at < horizon) this.recentlyGone.delete(id);
  }

  /** Gives the room's publisher slot back; a refusal means it was not held. */
  async release(
    roomId: string,
    clientId: string,
    reason: StreamStopReason,
    options?: CallOptions,
  ): Promise<void> {
    const reply = await ignoreRefusal(
      this.svc.rooms.streamUnpublish(roomId, this.unpublishArgs(clientId, reason), options),
    );
    if (reply !== undefined) this.watch.observe(roomId, reply.seq, reply.stream);
  }

  unpublishArgs(clientId: string, reason: StreamStopReason): CommandArgs<'stream_unpublish'> {
    return {
      clientId,
      reason,
      graceMs: this.svc.cfg.publisherGraceMs,
      endAfterMs: this.svc.cfg.endAfterMs,
    };
  }

  /**
   * Asks the SRS API, every `confirmIntervalMs`, whether the granted client publishes
   * (`publish.active` with its `cid`: for WHIP only once DTLS completes); confirms it
   * to the room when it does, releases it after `confirmTimeoutMs` from its
   * on_publish when not.
   */
  confirm(roomId: string, hook: SrsHook): void {
    if (this.confirming.has(hook.clientId) || this.svc.stopped) return;
    const ac = new AbortController();
    const entry = { ac, roomId, since: this.svc.now() };
    this.confirming.set(hook.clientId, entry);
    void this.confirmLoop(roomId, hook, ac.signal)
      .catch((err: unknown) => {
        if (!ac.signal.aborted) this.svc.logger.warn('confirmation failed', { roomId, err });
      })
      .finally(() => {
        if (this.confirming.get(hook.clientId) === entry) this.confirming.delete(hook.clientId);
      });
  }

  private async confirmLoop(roomId: string, hook: SrsHook, signal: AbortSignal): Promise<void> {
    const until = this.svc.now() + this.svc.cfg.confirmTimeoutMs;
    let answered = false;
    while (this.svc.now() < until) {
      await sleep(this.svc.cfg.confirmIntervalMs, undefined, { signal });
      let stream: SrsStream | undefined;
      try {
        stream = await this.carrying(roomId, hook);
        answered = true;
      } catch {
        continue;
      }
      if (signal.aborted) return;
      if (stream !== undefined) {
        const reply = await ignoreRefusal(
          this.svc.rooms.streamConfirm(roomId, { clientId: hook.clientId, streamId: stream.id }),
        );
        if (reply !== undefined) this.watch.observe(roomId, reply.seq, reply.stream);
        return;
      }
    }
    if (signal.aborted) return;
    // Released only when SRS said "not this one"; if its API never answered, the
    // reconcile rounds confirm or release the grant once it is back.
    if (answered) await this.release(roomId, hook.clientId, 'unconfirmed');
    else this.watch.watch(roomId);
  }

  /** The SRS stream when it shows `hook`'s client as its active publisher. */
  private async carrying(roomId: string, hook: SrsHook): Promise<SrsStream | undefined> {
    let stream: SrsStream | null | undefined;
    if (hook.streamId !== null) {
      stream = (await this.svc.srs.stream(hook.streamId)).stream;
    } else {
      const lists = await this.svc.srs.lists();
      stream = lists.streams.find((s) => s.app === this.svc.cfg.app && s.name === roomId);
    }
    return stream?.publish.active === true && stream.publish.cid === hook.clientId
      ? stream
      : undefined;
  }
}
