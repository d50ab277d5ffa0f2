// Peer-to-peer, on the SDK's RoomRtc (it negotiates: viewers offer, the stage
// answers; it closes a link at once when the peer's page goes away, and sets the
// room live when the owner publishes), plus what a page can tell that the SDK does
// not act on: a viewer's offer that reached a publisher page on its way out gets no
// answer (made again).
import { RoomRtc } from '/sdk/roomcast.js';
import * as view from './demo.view.js';

const { log } = view;
/** How long a viewer's offer may go unanswered before it is made again, in ms (at most twice this). */
const OFFER_RETRY_MS = 3000;

export function startRtc(state, room) {
  const rtc = new RoomRtc(room, state.role === 'publisher' ? { stream: state.media.stream } : {});
  state.rtc = rtc;
  rtc.on('track', ({ peerId, track, streams }) => {
    view.showVideo('remote', streams[0] ?? new MediaStream([track]), 'Peer-to-peer video.');
    log(`receiving ${track.kind} from ${peerId}`);
  });
  rtc.on('state', ({ peerId, state: s }) => {
    log(`peer connection with ${peerId}: ${s}`);
    view.renderRoom(state);
  });
  rtc.on('closed', ({ peerId }) => {
    if (rtc === state.rtc) log(`link to ${peerId} closed`);
    view.renderRoom(state);
  });
  state.offerTimer = setInterval(() => retryUnanswered(state, rtc), OFFER_RETRY_MS);
  rtc.on('error', (e) =>
    log(
      e.code === 'NOT_ALLOWED'
        ? 'the room stays preparing: only its owner sets it live (publish in a room you created)'
        : `${e.code}: ${e.message}`,
      'error',
    ),
  );
}

/** Drops a link; a viewer's helper links to the stage again on the room's next change: now. */
function relink(state, rtc, peerId, link, why) {
  if (rtc.links.get(peerId) !== link || rtc !== state.rtc) return;
  log(`${peerId} ${why}`);
  rtc.links.delete(peerId);
  link.close();
  if (state.membership?.role === 'viewer') state.membership.notify('change', undefined);
  view.renderRoom(state);
}

/**
 * A viewer's offer that is still unanswered one round later is made again: it may
 * have reached a publisher page that was going away (a reload) instead of waiting
 * for the next one.
 */
function retryUnanswered(state, rtc) {
  if (rtc !== state.rtc || state.membership?.role !== 'viewer') return;
  for (const [peerId, link] of [...rtc.links]) {
    const pc = link.pc;
    const offer = pc.signalingState === 'have-local-offer' ? pc.localDescription?.sdp : undefined;
    if (offer !== undefined && offer === link.unanswered)
      relink(state, rtc, peerId, link, 'did not answer: offering again');
    link.unanswered = offer;
  }
}
