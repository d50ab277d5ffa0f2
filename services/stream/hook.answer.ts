/**
 * Answers SRS's http_hooks (on_publish, on_play, on_unpublish, on_stop) by asking
 * the room's actor.
 *
 * What must hold: every hook is answered within `hookDeadlineMs`, whatever NATS or
 * the room service do. A publish or play that could not be decided in time is
 * denied, and what the room may still grant afterwards is taken back (the room's
 * mailbox runs commands in order, so the take-back lands after the late grant).
 */
import { toAuthError } from '#shared/auth/auth.js';
import type { RoomPerms } from '#shared/auth/grants.js';
import { MediaAction } from '#shared/auth/media.token.js';
import type { StreamCredential, VerifyStream } from '#shared/auth/stream.token.js';
import type { RoomReplies } from '#shared/room/room.commands.js';
import { RoomRefusedError, type CallOptions, type CommandArgs } from '#shared/room/room.client.js';
import type { StreamStopReason } from '#shared/room/room.events.js';
import { setSpanAttributes } from '#shared/runtime/telemetry.js';
import { ErrorCode, RoomcastError } from '#shared/wire/errors.js';
import { isSubjectToken } from '#shared/wire/subjects.js';
import type { HookAdmissions } from './hook.admissions.js';
import type { HookResult, HookStats } from './hook.stats.js';
import type { PublishConfirmer } from './publish.confirm.js';
import type { RoomWatch } from './room.watch.js';
import { ignoreRefusal } from './room.refusal.js';
import { HookAction, allow, deny, readParam, type HookAnswer, type SrsHook } from './srs.hooks.js';
import type { StreamContext } from './stream.context.js';
import type { StreamRevocations } from './stream.revocations.js';

const noPerms: RoomPerms = { publish: false, view: false, admin: false };

/** One hook being decided: its deadline, and whether the answer already went out. */
interface Deciding {
  deadlineAt: number;
  late: boolean;
}

export class HookAnswerer {
  constructor(
    private readonly svc: StreamContext,
    /** Verifies publish and play tokens for one room and action (media tokens). */
    private readonly verify: VerifyStream,
    private readonly revocations: StreamRevocations,
    private readonly watch: RoomWatch,
    private readonly confirmer: PublishConfirmer,
    private readonly stats: HookStats,
    private readonly admissions: HookAdmissions,
  ) {}

  /**
   * Answers one callback, never later than `hookDeadlineMs` after `receivedAt`.
   * on_unpublish and on_stop are always answered "allow": SRS ignores their answer.
   */
  async answer(hook: SrsHook, receivedAt: number): Promise<HookAnswer> {
    const ctx: Deciding = { deadlineAt: receivedAt + this.svc.cfg.hookDeadlineMs, late: false };
    const asks = hook.action === HookAction.onPublish || hook.action === HookAction.onPlay;
    if (asks) this.admissions.begin(hook.clientId);
    else this.admissions.ended(hook.clientId);
    const work = this.decide(hook, ctx).catch((err: unknown) => {
      if (err instanceof RoomRefusedError) return refused(err);
      if (err instanceof RoomcastError) return deny(err.code, err.message);
      this.svc.logger.error('hook failed', { action: hook.action, err });
      return deny(ErrorCode.INTERNAL);
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), Math.max(0, ctx.deadlineAt - this.svc.now()));
    });
    const first = await Promise.race([work, late]);
    clearTimeout(timer);
    let answer: HookAnswer;
    if (first === 'late') {
      ctx.late = true;
      this.stats.timedOut();
      answer = deny(ErrorCode.UNAVAILABLE, 'the room service did not answer in time');
    } else {
      answer = first;
    }
    // Unavailable means "unknown": the room may still grant what SRS was told is denied.
    if (answer.code === ErrorCode.UNAVAILABLE) this.takeBack(hook);
    // Undecided (room service too slow, or a bug) is an error even where SRS is told "allow".
    const result: HookResult =
      answer.code === ErrorCode.UNAVAILABLE || answer.code === ErrorCode.INTERNAL
        ? 'error'
        : answer.allow
          ? 'allowed'
          : 'denied';
    this.stats.decided(hook, result, answer.code);
    if (asks) this.admissions.decided(hook.clientId, answer.allow, hook.hls);
    else answer = allow;
    this.stats.answered(answer.allow, this.svc.now() - receivedAt);
    setSpanAttributes({
      'srs.hook.result': result,
      'srs.hook.allow': answer.allow,
      ...(answer.code === undefined ? {} : { 'roomcast.error.code': answer.code }),
    });
    return answer;
  }

  private async decide(hook: SrsHook, ctx: Deciding): Promise<HookAnswer> {
    const roomId = hook.roomId;
    if (hook.app !== this.svc.cfg.app || !isSubjectToken(roomId)) {
      return deny(ErrorCode.ROOM_NOT_FOUND, `no room streams at ${hook.app}/${hook.stream}`);
    }
    switch (hook.action) {
      case HookAction.onPublish:
        return this.onPublish(roomId, hook, ctx);
      case HookAction.onPlay:
        return this.onPlay(roomId, hook, ctx);
      case HookAction.onUnpublish: {
        this.confirmer.forget(hook.clientId);
        this.revocations.forget(hook.clientId);
        await this.confirmer.release(roomId, hook.clientId, 'unpublished', this.within(ctx));
        return allow;
      }
      case HookAction.onStop:
        this.confirmer.forget(hook.clientId);
        this.revocations.forget(hook.clientId);
        // A refusal (no such room, no such viewer) leaves nothing to stop.
        await ignoreRefusal(
          this.svc.rooms.streamStop(roomId, stopArgs(hook.clientId, 'stopped'), this.within(ctx)),
        );
        return allow;
    }
  }

  private async onPublish(roomId: string, hook: SrsHook, ctx: Deciding): Promise<HookAnswer> {
    const { key, token } = readParam(hook.param);
    let identity: StreamCredential | undefined;
    if (key === null && token !== null) {
      const verified = await this.verifyToken(token, roomId, MediaAction.publish);
      if ('allow' in verified) return verified;
      identity = verified;
    } else if (key === null) {
      return deny(
        ErrorCode.NOT_ALLOWED,
        'publish with ?key=<stream key> or ?token=<publish token>',
      );
    }
    const args: CommandArgs<'stream_publish'> = {
      clientId: hook.clientId,
      serviceId: hook.serviceId,
      key,
      userId: identity?.userId ?? null,
      perms: identity?.perms ?? noPerms,
    };
    let reply: RoomReplies['stream_publish'];
    try {
      reply = await this.svc.rooms.streamPublish(roomId, args, this.within(ctx));
    } catch (err) {
      if (!(err instanceof RoomRefusedError) || err.code !== ErrorCode.PUBLISHER_TAKEN) throw err;
      if (!(await this.freeStaleSlot(roomId, hook, ctx))) return refused(err);
      reply = await this.svc.rooms.streamPublish(roomId, args, this.within(ctx));
    }
    if (ctx.late) return allow;
    // With the stream key: the owner's session, as if it began now.
    this.revocations.admit(
      hook.clientId,
      roomId,
      true,
      identity ?? { userId: reply.userId, issuedAt: this.svc.now(), expiresAt: Infinity },
    );
    this.watch.observe(roomId, reply.seq, reply.stream);
    this.confirmer.confirm(roomId, hook);
    return allow;
  }

  /**
   * The slot is taken: by an encoder SRS still carries (the busy-stream case, or two
   * racing), or by one whose on_unpublish was lost. Only the second is freed, at once,
   * so that a reconnecting encoder need not wait for the next reconcile round.
   */
  private async freeStaleSlot(roomId: string, hook: SrsHook, ctx: Deciding): Promise<boolean> {
    const st = await ignoreRefusal(this.svc.rooms.streamStatus(roomId, this.within(ctx)));
    const holder = st?.stream.publisher ?? null;
    if (holder === null) return false;
    let reason: StreamStopReason;
    if (
      holder.serviceId !== null &&
      hook.serviceId !== null &&
      holder.serviceId !== hook.serviceId
    ) {
      reason = 'srs_restarted';
    } else {
      try {
        const present = await this.svc.srs.hasClient(
          holder.clientId,
          Math.min(this.svc.cfg.srsApiTimeoutMs, ctx.deadlineAt - this.svc.now()),
        );
        if (present) return false;
      } catch {
        return false;
      }
      reason = 'vanished';
    }
    this.confirmer.forget(holder.clientId);
    await this.confirmer.release(roomId, holder.clientId, reason, this.within(ctx));
    return true;
  }

  private async onPlay(roomId: string, hook: SrsHook, ctx: Deciding): Promise<HookAnswer> {
    const { token } = readParam(hook.param);
    let identity: StreamCredential | undefined;
    if (token !== null) {
      const verified = await this.verifyToken(token, roomId, MediaAction.play);
      if ('allow' in verified) return verified;
      identity = verified;
    }
    await this.svc.rooms.streamPlay(
      roomId,
      {
        clientId: hook.clientId,
        serviceId: hook.serviceId,
        userId: identity?.userId ?? null,
        perms: identity?.perms ?? noPerms,
      },
      this.within(ctx),
    );
    if (identity !== undefined && !ctx.late)
      this.revocations.admit(hook.clientId, roomId, false, identity);
    this.watch.watch(roomId);
    return allow;
  }

  /** A publish or play token for this room and action (shared/auth/stream.token.ts), not revoked. */
  private async verifyToken(
    token: string,
    roomId: string,
    action: MediaAction,
  ): Promise<StreamCredential | HookAnswer> {
    let credential: StreamCredential;
    try {
      credential = await this.verify(token, roomId, action);
    } catch (err) {
      const e = toAuthError(err);
      return deny(e.code, e.message);
    }
    if (this.revocations.isRevoked(credential)) return deny(ErrorCode.TOKEN_REVOKED);
    return credential;
  }

  /** After a deadline passed: whatever the room may still grant is given back. */
  private takeBack(hook: SrsHook): void {
    const roomId = hook.roomId;
    if (hook.app !== this.svc.cfg.app || !isSubjectToken(roomId)) return;
    this.confirmer.forget(hook.clientId);
    const rooms = this.svc.rooms;
    let sent: Promise<unknown>;
    if (hook.action === HookAction.onPublish) {
      sent = rooms.streamUnpublish(
        roomId,
        this.confirmer.unpublishArgs(hook.clientId, 'hook_timeout'),
      );
    } else if (hook.action === HookAction.onPlay) {
      sent = rooms.streamStop(roomId, stopArgs(hook.clientId, 'hook_timeout'));
    } else {
      return;
    }
    // A refusal means there was nothing to take back; only a lost command is worth a warning.
    ignoreRefusal(sent).catch((err: unknown) => {
      this.svc.logger.warn('take-back not acknowledged', { roomId, clientId: hook.clientId, err });
    });
  }

  /** A room command's options: within what is left of the hook's deadline. */
  private within(ctx: Deciding): CallOptions {
    return { timeoutMs: Math.max(1, ctx.deadlineAt - this.svc.now()) };
  }
}

const stopArgs = (
  clientId: string,
  reason: CommandArgs<'stream_stop'>['reason'],
): CommandArgs<'stream_stop'> => ({ clientId, reason });

/** SRS is told the room's own refusal, code and message as the room gave them. */
const refused = (err: RoomRefusedError): HookAnswer => deny(err.body.code, err.body.message);
