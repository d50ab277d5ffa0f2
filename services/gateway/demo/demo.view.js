// What the demo page shows: the connection badge and buttons, the room's facts
// (status, audience count, peer id, frames), the stage, the viewers a publisher
// sends to, the SRS line and URLs, and the event log. Reads the page's state,
// never changes it.
import { renderUrls } from './demo.srs.js';

export const $ = (id) => document.getElementById(id);

const LOG_LINES = 200;

export function log(text, level = 'info') {
  const li = document.createElement('li');
  li.className = level;
  li.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  const list = $('log');
  list.append(li);
  while (list.children.length > LOG_LINES) list.firstElementChild.remove();
  list.scrollTop = list.scrollHeight;
}

const CONN_LABELS = {
  idle: 'idle',
  connecting: 'connecting…',
  joined: 'joined',
  reconnecting: 'reconnecting…',
  resumed: 'resumed',
  left: 'left',
  error: 'error',
};

/** The badge, and buttons that match it: in a room, Join is off and Leave on. */
export function renderConn(state) {
  const badge = $('conn');
  badge.dataset.state = state.conn;
  badge.textContent = CONN_LABELS[state.conn];
  const busy = state.wanted;
  $('join-btn').disabled = busy;
  $('leave-btn').disabled = !busy;
  $('drop-btn').disabled = !busy || state.client?.state !== 'open';
  for (const el of $('join').querySelectorAll('input, select')) el.disabled = busy;
}

function peerItem(peer, extra) {
  const li = document.createElement('li');
  li.dataset.peer = peer.peerId;
  const who = document.createElement('span');
  who.textContent = `${peer.userId} (${peer.role}) `;
  const id = document.createElement('code');
  id.textContent = peer.peerId;
  li.append(who, id, ...extra);
  return li;
}

function pcNote(pc) {
  const s = document.createElement('span');
  s.className = 'pc';
  s.textContent = ` — peer connection ${pc.connectionState}`;
  return s;
}

export function renderRoom(state) {
  const room = state.membership?.active ? state.membership : undefined;
  const status = room?.status;
  $('room-status').textContent = status ?? '–';
  $('room-status').dataset.status = status ?? '';
  const stats = room?.stats;
  $('viewers').textContent = stats ? `${stats.viewers} (peak ${stats.peakViewers})` : '–';
  $('peer-id').textContent = room?.peerId ?? '–';
  $('mode').textContent = !room
    ? '–'
    : state.whip
      ? 'broadcast through SRS (WHIP)'
      : state.whep
        ? 'watching through SRS (WHEP)'
        : state.rtc
          ? 'peer-to-peer'
          : state.mode === 'srs'
            ? 'broadcast through SRS (not started)'
            : '–';

  const stage = $('members');
  stage.replaceChildren();
  if (room) {
    const me = { peerId: room.peerId, userId: state.user, role: room.role };
    if (room.role !== 'viewer') stage.append(peerItem(me, [' — you']));
    for (const peer of room.members.values()) {
      const link = state.rtc?.links.get(peer.peerId);
      const li = peerItem(peer, link ? [pcNote(link.pc)] : []);
      if (link) li.dataset.pc = link.pc.connectionState;
      stage.append(li);
    }
  }

  // The audience is never announced: a publisher knows its viewers by the peer
  // connections they asked for.
  const audience = $('audience');
  audience.replaceChildren();
  const viewers = room && room.role !== 'viewer' ? audienceLinks(state) : [];
  for (const link of viewers) {
    const li = peerItem({ peerId: link.peerId, userId: 'viewer', role: 'audience' }, [
      pcNote(link.pc),
    ]);
    li.dataset.pc = link.pc.connectionState;
    audience.append(li);
  }
  $('audience-box').hidden = !room || room.role === 'viewer';
}

/** A stage member's links to the audience (its links to other stage members aside). */
export function audienceLinks(state) {
  const room = state.membership;
  if (!state.rtc || !room) return [];
  return [...state.rtc.links.values()].filter((l) => !room.members.has(l.peerId));
}

export function renderShare(state) {
  const share = $('share');
  share.replaceChildren();
  if (!state.wanted) return;
  const url = new URL(location.pathname, location.href);
  url.search = new URLSearchParams({ room: state.room, role: 'viewer', autojoin: '1' }).toString();
  const a = document.createElement('a');
  a.href = url.toString();
  a.target = '_blank';
  a.textContent = 'open a viewer in a new tab';
  share.append('Share this room: ', a);
}

/** The SRS line (reachable or not, and why) and the URLs this user may see. */
export function renderSrs(state) {
  // What WHIP or WHEP ran into comes first: it is what this user tried.
  const srs = state.srsProblem ? { ok: false, text: state.srsProblem } : state.srs;
  const line = $('srs-status');
  line.textContent = srs?.text ?? (state.wanted ? 'asking the stream service…' : '–');
  line.dataset.ok = srs === undefined ? '' : String(srs.ok);
  const box = $('urls');
  if (state.urls) {
    renderUrls(box, state.urls, state.role === 'publisher');
    box.className = '';
  } else {
    box.className = 'note';
    box.textContent = state.urlsError ?? 'Join a room to see them.';
  }
}

export function renderFrames(state, all) {
  if (all.length === 0) {
    $('frames').textContent = '–';
    return;
  }
  const decoded = all.reduce((n, s) => n + s.framesDecoded, 0);
  const sending = all.filter((s) => s.framesSent > 0 && s.connectionState === 'connected');
  const sent = sending.reduce((n, s) => n + s.framesSent, 0);
  $('frames').textContent = state.whip
    ? `${sent} sent to SRS`
    : state.membership?.role === 'publisher'
      ? `${sent} sent to ${sending.length} viewer(s)`
      : `${decoded} decoded`;
}

export function showVideo(which, stream, note) {
  const video = $(which);
  video.srcObject = stream;
  video.hidden = stream === null;
  if (note) $('video-note').textContent = note;
}

/** The page's state as plain data (what the browser tests read). */
export function snapshot(state) {
  const room = state.membership?.active ? state.membership : undefined;
  return {
    conn: state.conn,
    history: [...state.history],
    peerId: room?.peerId,
    role: room?.role,
    status: room?.status,
    viewers: room?.stats?.viewers,
    audience: audienceLinks(state).map((l) => l.peerId),
    srs: state.srsProblem ?? state.srs?.text,
    srsOk: state.srsProblem ? false : state.srs?.ok,
  };
}
