// The demo's broadcast mode, through SRS: the room's URLs from the gateway
// (`GET /api/rooms/:id/urls`), the stream's state from the stream service
// (`GET /api/rooms/:id/stream`), WHIP to publish and WHEP to watch. Everything
// that can tell that SRS is not there (the stream says `unknown`, the stream
// service could not reach the SRS API, the URLs call fails, WHIP or WHEP fails)
// ends in one plain sentence for the page, never in a silent black video.

/** A failure the page shows as it is: SRS (or the stream service) is not usable. */
export class SrsUnavailable extends Error {}

const api = (room, what) => `/api/rooms/${encodeURIComponent(room)}/${what}`;

async function getJson(url, token) {
  let res;
  try {
    res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  } catch (err) {
    throw new SrsUnavailable(`the gateway did not answer ${url} (${err.message})`);
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok)
    throw new SrsUnavailable(
      `${url} answered ${res.status}${body.error ? ` ${body.error.code}: ${body.error.message}` : ''}`,
    );
  return body;
}

/** The room's publish and play URLs, as the gateway gives them to this user. */
export function fetchUrls(room, token) {
  return getJson(api(room, 'urls'), token);
}

/** The stream's status as the stream service sees it (README "SRS outages"). */
export async function fetchStream(room, token) {
  return (await getJson(api(room, 'stream'), token)).stream;
}

/** The sentence for the SRS line of the page: `{ok, text}`. */
export function describeStream(stream) {
  if (stream.state === 'unknown' || stream.srs !== 'ok') {
    const since = stream.srsDownSince
      ? ` since ${new Date(stream.srsDownSince).toLocaleTimeString()}`
      : '';
    return {
      ok: false,
      text:
        `SRS is not reachable: the stream service cannot reach its API${since}. ` +
        'Broadcast through SRS will not work; peer-to-peer does.',
    };
  }
  // `ok` only says SRS was not found down: the stream service asks it about streams it carries.
  const what = stream.active
    ? `broadcasting (${stream.streamViewers} SRS player(s))`
    : 'no broadcast in this room';
  return { ok: true, text: `SRS: ${what}` };
}

/**
 * Renders the URLs the gateway answered into `box`. Publish URLs (with the stream
 * key or a publish token) only when `mayPublish`: the gateway hands them to anyone
 * with a publish grant, but a viewer has no use for them and must not see them.
 */
export function renderUrls(box, body, mayPublish) {
  const section = (title, urls) => {
    const h = document.createElement('h4');
    h.textContent = title;
    const ul = document.createElement('ul');
    ul.className = title.startsWith('Publish') ? 'publish-urls' : 'play-urls';
    const walk = (value, path) => {
      if (typeof value === 'string' && /^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
        const li = document.createElement('li');
        const code = document.createElement('code');
        code.textContent = value;
        li.append(`${path.join(' ')}: `, code);
        ul.append(li);
      } else if (value && typeof value === 'object') {
        for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
      }
    };
    walk(urls, []);
    return [h, ul];
  };
  const parts = [];
  if (mayPublish && body.publish)
    parts.push(...section('Publish (keep these private)', body.publish));
  if (body.play) parts.push(...section('Play', body.play));
  if (body.playTokenRequired) parts.push('The play URLs need a play token appended.');
  box.replaceChildren(...parts);
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * `url`, or the same path on this page's origin when `url` names this very gateway
 * by another loopback name (localhost and 127.0.0.1 are two origins): the gateway
 * forwards WHIP and WHEP to SRS (GATEWAY_SRS_RTC_URL) and a same-origin request
 * needs no CORS grant.
 */
function sameGateway(url) {
  const u = new URL(url, location.href);
  const here = new URL(location.href);
  const other = u.origin !== here.origin && u.protocol === here.protocol && u.port === here.port;
  return other && LOOPBACK.has(u.hostname) && LOOPBACK.has(here.hostname)
    ? new URL(`${u.pathname}${u.search}`, here.origin)
    : u;
}

/** POSTs the offer to a WHIP or WHEP URL; applies SRS's answer. Returns the session URL, if given. */
async function exchange(url, pc) {
  await pc.setLocalDescription(await pc.createOffer());
  const where = sameGateway(url);
  let res;
  try {
    res = await fetch(where, {
      method: 'POST',
      headers: { 'content-type': 'application/sdp' },
      body: pc.localDescription.sdp,
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    // A refused CORS preflight fails the same way: an SRS API not published for browsers.
    throw new SrsUnavailable(`SRS is not reachable at ${where.origin} (${err.message})`);
  }
  const text = await res.text();
  if (res.status === 502 || res.status === 503 || res.status === 504)
    throw new SrsUnavailable(`SRS is not reachable behind ${where.origin} (HTTP ${res.status})`);
  if (!res.ok) throw new SrsUnavailable(`SRS refused (HTTP ${res.status}): ${text.slice(0, 200)}`);
  const session = res.headers.get('location');
  const sessionUrl = session ? new URL(session, where).href : undefined;
  try {
    await pc.setRemoteDescription({ type: 'answer', sdp: text });
  } catch (err) {
    // SRS's session exists now: end it rather than leave it until SRS times it out.
    if (sessionUrl) void fetch(sessionUrl, { method: 'DELETE' }).catch(() => {});
    throw new AnswerRefused(err.message, mediaKinds(text));
  }
  return sessionUrl;
}

/** The browser refused SRS's answer; `kinds` are the m-lines SRS answered, in order. */
class AnswerRefused extends Error {
  constructor(message, kinds) {
    super(message);
    this.kinds = kinds;
  }
}

/** The media kinds of an SDP's m-lines, in order (`['video']`, `['audio', 'video']`). */
function mediaKinds(sdp) {
  return sdp
    .split(/\r?\n/)
    .filter((l) => l.startsWith('m='))
    .map((l) => l.slice(2).split(' ')[0]);
}

function session(pc, sessionUrl) {
  return {
    pc,
    /** Ends the session: SRS frees the stream at once (keepalive: it may run on page hide). */
    stop() {
      pc.close();
      if (sessionUrl) void fetch(sessionUrl, { method: 'DELETE', keepalive: true }).catch(() => {});
    },
  };
}

/** Publishes `stream` with WHIP; rejects with SrsUnavailable when SRS cannot take it. */
export async function whipPublish(url, stream, iceServers) {
  const pc = new RTCPeerConnection({ iceServers });
  for (const track of stream.getTracks())
    pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
  try {
    return session(pc, await exchange(url, pc));
  } catch (err) {
    pc.close();
    throw err;
  }
}

/** Plays with WHEP; `onTrack(event)` for each track; rejects with SrsUnavailable. */
export async function whepPlay(url, iceServers, onTrack, kinds = ['audio', 'video']) {
  const pc = new RTCPeerConnection({ iceServers });
  for (const kind of kinds) pc.addTransceiver(kind, { direction: 'recvonly' });
  pc.ontrack = onTrack;
  try {
    return session(pc, await exchange(url, pc));
  } catch (err) {
    pc.close();
    // SRS 6 answers only the kinds the stream carries (no audio m-line for a video-only
    // publisher, such as the test pattern), and a browser refuses an answer that leaves
    // out an offered m-line (seen against a real SRS 6.0.157): offer again with exactly
    // what SRS answered.
    const answered = err instanceof AnswerRefused ? err.kinds : [];
    if (answered.length > 0 && answered.join() !== kinds.join())
      return whepPlay(url, iceServers, onTrack, answered);
    if (err instanceof AnswerRefused) throw new SrsUnavailable(`SRS's answer: ${err.message}`);
    throw err;
  }
}
