// The page's side of broadcasting through SRS: the URLs this user may see, WHIP
// for a publisher that chose it, WHEP for a viewer of a room that SRS carries, and
// the SRS line (reachable or not, and why). `render()` redraws the page.
import {
  SrsUnavailable,
  describeStream,
  fetchStream,
  fetchUrls,
  whepPlay,
  whipPublish,
} from './demo.srs.js';
import { log, renderSrs, showVideo } from './demo.view.js';

export async function loadUrls(state) {
  try {
    state.urls = await fetchUrls(state.room, state.apiToken);
    state.urlsError = undefined;
    return state.urls;
  } catch (err) {
    state.urls = undefined;
    state.urlsError = `No URLs: ${err.message}. They come from GET /api/rooms/${state.room}/urls.`;
    throw err;
  } finally {
    renderSrs(state);
  }
}

export async function startWhip(state, render) {
  try {
    const urls = await loadUrls(state);
    if (!urls.publish?.whip)
      throw new SrsUnavailable('the gateway gives you no publish URL for this room');
    const whip = await whipPublish(urls.publish.whip, state.media.stream, state.client.iceServers);
    if (!state.wanted) return whip.stop();
    state.whip = whip;
    whip.pc.onconnectionstatechange = () => {
      log(`connection to SRS: ${whip.pc.connectionState}`);
      if (whip.pc.connectionState === 'failed')
        state.srsProblem = 'SRS took the offer but no media reaches it (WebRTC failed).';
      render();
    };
    log('broadcasting through SRS (WHIP)');
  } catch (err) {
    state.srsProblem = `${err.message}. Broadcasting through SRS is not possible; peer-to-peer is.`;
    log(state.srsProblem, 'error');
  }
  render();
}

async function startWhep(state, render) {
  if (state.whep || state.whepStarting) return;
  state.whepStarting = true;
  try {
    const urls = state.urls ?? (await loadUrls(state));
    const whep = await whepPlay(urls.play.whep, state.client.iceServers, (e) =>
      showVideo('remote', e.streams[0] ?? new MediaStream([e.track]), 'Watching via SRS.'),
    );
    if (!state.wanted) return whep.stop();
    state.whep = whep;
    log('watching through SRS (WHEP)');
  } catch (err) {
    state.srsProblem = `${err.message}: cannot watch through SRS.`;
    log(state.srsProblem, 'error');
  } finally {
    state.whepStarting = false;
    render();
  }
}

/** The SRS line; a viewer of a room with no one on stage watches what SRS carries. */
export async function refreshSrs(state, render) {
  const room = state.membership;
  if (!room?.active) return;
  try {
    const stream = await fetchStream(state.room, state.apiToken);
    state.srs = describeStream(stream);
    const watchSrs = room.role === 'viewer' && state.role === 'viewer' && !room.publisher;
    if (watchSrs && stream.active) void startWhep(state, render);
    if (state.whep && (!stream.active || room.publisher)) {
      state.whep.stop();
      state.whep = undefined;
    }
  } catch (err) {
    state.srs = {
      ok: false,
      text: `SRS is not reachable: ${err.message}. Broadcast will not work; peer-to-peer does.`,
    };
  }
  if (!state.urls) await loadUrls(state).catch(() => undefined);
  renderSrs(state);
}
