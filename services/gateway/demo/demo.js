// Roomcast demo page: one publisher sends to each viewer peer-to-peer, negotiated
// through the gateway's signaling (client protocol v1, see the README). Plain
// JavaScript, no build step. The viewer offers: the room announces its stage (the
// publisher) to everyone but never its audience, so the publisher does not hear of
// viewers. A viewer offers to the publisher (receive-only) when it learns of it (in
// `joined` or `peer_joined`), and again after `resumed` if its connection broke;
// the publisher answers any offer, one RTCPeerConnection per viewer.

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

/** Reconnect backoff, in ms: first try, then doubling up to the cap. */
const RECONNECT_FIRST_MS = 250;
const RECONNECT_MAX_MS = 5000;
/** A development token is fetched again when less than this is left, in ms. */
const TOKEN_MARGIN_MS = 60_000;
const LOG_LINES = 200;
const BROKEN = new Set(['failed', 'closed', 'disconnected']);

const state = {
  /** 'idle' | 'connecting' | 'joined' | 'reconnecting' | 'resumed' | 'left' | 'error' */
  conn: 'idle',
  /** Every connection state the page went through, oldest first (for people and tests). */
  history: ['idle'],
  /** True while the user wants to be in the room: a dropped socket is then reconnected. */
  wanted: false,
  user: '',
  room: '',
  role: 'viewer',
  source: 'pattern',
  token: undefined,
  tokenExpiresAt: 0,
  /** The token came from the form, not from /dev/token. */
  tokenGiven: false,
  ws: undefined,
  peerId: undefined,
  resume: undefined,
  status: undefined,
  /** peerId → {peerId, userId, role} */
  peers: new Map(),
  /** peerId → RTCPeerConnection (with `pending`: candidates that came before the remote description) */
  pcs: new Map(),
  localStream: undefined,
  stopPattern: undefined,
  attempt: 0,
  reconnectTimer: undefined,
  /** The last `room_stats`: the audience as a number. */
  stats: undefined,
  nextId: 1,
};

// ---------------------------------------------------------------- rendering

function log(text, level = 'info') {
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

function setConn(conn) {
  if (state.conn !== conn) state.history.push(conn);
  state.conn = conn;
  const badge = $('conn');
  badge.dataset.state = conn;
  badge.textContent = CONN_LABELS[conn];
  const inRoom = state.wanted;
  $('join-btn').disabled = inRoom;
  $('leave-btn').disabled = !inRoom;
  $('drop-btn').disabled = state.ws === undefined || state.ws.readyState !== WebSocket.OPEN;
}

function renderRoom() {
  $('room-status').textContent = state.status ?? '–';
  $('viewers').textContent = state.stats
    ? `${state.stats.viewers} (peak ${state.stats.peakViewers})`
    : '–';
  $('peer-id').textContent = state.peerId ?? '–';
  const list = $('members');
  list.replaceChildren();
  const me = state.peerId ? [{ peerId: state.peerId, userId: state.user, role: state.role }] : [];
  for (const peer of [...me, ...state.peers.values()]) {
    const li = document.createElement('li');
    li.dataset.peer = peer.peerId;
    const pc = state.pcs.get(peer.peerId);
    if (pc) li.dataset.pc = pc.connectionState;
    const who = document.createElement('span');
    who.textContent = `${peer.userId} (${peer.role}) `;
    const id = document.createElement('code');
    id.textContent = peer.peerId;
    li.append(who, id);
    if (peer.peerId === state.peerId) li.append(' — you');
    if (pc) {
      const s = document.createElement('span');
      s.className = 'pc';
      s.textContent = ` — peer connection ${pc.connectionState}`;
      li.append(s);
    }
    list.append(li);
  }
}

function renderShare() {
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

async function renderUrls() {
  const box = $('urls');
  try {
    const res = await fetch(`/api/rooms/${encodeURIComponent(state.room)}/urls`, {
      headers: { authorization: `Bearer ${state.token}` },
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const urls = [];
    const walk = (value, path) => {
      if (typeof value === 'string' && /^[a-z][a-z0-9+.-]*:\/\//i.test(value))
        urls.push([path.join(' '), value]);
      else if (value && typeof value === 'object')
        for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
    };
    walk(await res.json(), []);
    if (urls.length === 0) throw new Error('no URLs in the answer');
    const ul = document.createElement('ul');
    for (const [name, url] of urls) {
      const li = document.createElement('li');
      const code = document.createElement('code');
      code.textContent = url;
      li.append(`${name}: `, code);
      ul.append(li);
    }
    box.replaceChildren(ul);
    box.className = '';
  } catch (err) {
    box.className = 'note';
    box.textContent =
      `Not available (${err.message}): GET /api/rooms/${state.room}/urls answers them ` +
      'when the stream service and SRS run (see "Running with SRS" in the README).';
  }
}

// ---------------------------------------------------------------- media

/** A moving test pattern from a canvas: works where there is no camera. */
function testPattern(label) {
  const canvas = document.createElement('canvas');
  canvas.width = 640;
  canvas.height = 360;
  const g = canvas.getContext('2d');
  let frame = 0;
  const draw = () => {
    frame++;
    const hue = (frame * 2) % 360;
    g.fillStyle = `hsl(${hue} 60% 35%)`;
    g.fillRect(0, 0, 640, 360);
    const colors = ['#fff', '#ff0', '#0ff', '#0f0', '#f0f', '#f00', '#00f'];
    colors.forEach((c, i) => {
      g.fillStyle = c;
      g.fillRect(40 + i * 80, 40, 80, 160);
    });
    g.fillStyle = '#000';
    g.fillRect(((frame * 6) % 680) - 40, 210, 40, 40);
    g.fillStyle = '#fff';
    g.font = 'bold 28px sans-serif';
    g.fillText(`Roomcast test pattern — ${label}`, 40, 290);
    g.font = '22px monospace';
    g.fillText(`${new Date().toISOString().slice(11, 23)}  frame ${frame}`, 40, 330);
  };
  draw();
  // A timer rather than requestAnimationFrame: it keeps drawing in a background tab.
  const timer = setInterval(draw, 1000 / 30);
  const stream = canvas.captureStream(30);
  return { stream, stop: () => clearInterval(timer) };
}

async function startMedia() {
  if (state.localStream) return;
  if (state.source === 'camera') {
    try {
      state.localStream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
      log('camera on');
    } catch (err) {
      log(`camera unavailable (${err.name}); using the test pattern`, 'error');
    }
  }
  if (!state.localStream) {
    const p = testPattern(state.user);
    state.localStream = p.stream;
    state.stopPattern = p.stop;
    log('test pattern on');
  }
  const local = $('local');
  local.srcObject = state.localStream;
  local.hidden = false;
  $('video-note').textContent = 'Your stream (sent to each viewer).';
}

function stopMedia() {
  state.stopPattern?.();
  state.stopPattern = undefined;
  for (const track of state.localStream?.getTracks() ?? []) track.stop();
  state.localStream = undefined;
  $('local').srcObject = null;
  $('local').hidden = true;
  $('remote').srcObject = null;
  $('remote').hidden = true;
  $('video-note').textContent = 'Nothing yet.';
}

// ---------------------------------------------------------------- peer connections

function closePc(peerId) {
  const pc = state.pcs.get(peerId);
  if (!pc) return;
  state.pcs.delete(peerId);
  pc.close();
  if (state.role === 'viewer') {
    $('remote').srcObject = null;
    $('remote').hidden = true;
  }
  renderRoom();
}

function newPc(peerId) {
  closePc(peerId);
  const pc = new RTCPeerConnection({ iceServers: [] });
  pc.pending = [];
  state.pcs.set(peerId, pc);
  pc.onicecandidate = (e) => {
    if (e.candidate && e.candidate.candidate)
      send({ type: 'candidate', room: state.room, to: peerId, candidate: e.candidate.toJSON() });
  };
  pc.onconnectionstatechange = () => {
    if (state.pcs.get(peerId) !== pc) return;
    log(`peer connection with ${peerId}: ${pc.connectionState}`);
    // The publisher is not told when a viewer leaves: a failed connection is how it knows.
    if (state.role === 'publisher' && pc.connectionState === 'failed') closePc(peerId);
    else renderRoom();
  };
  pc.ontrack = (e) => {
    const remote = $('remote');
    remote.srcObject = e.streams[0] ?? new MediaStream([e.track]);
    remote.hidden = false;
    $('video-note').textContent = 'Receiving the publisher peer-to-peer.';
    log(`receiving ${e.track.kind} from ${peerId}`);
  };
  renderRoom();
  return pc;
}

async function flushCandidates(pc) {
  const pending = pc.pending;
  pc.pending = [];
  for (const c of pending) await pc.addIceCandidate(c).catch((err) => log(`candidate: ${err}`));
}

/** Viewer → the publisher: a new receive-only connection, asking for its stream. */
async function viewerOffer(peerId, why) {
  const pc = newPc(peerId);
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  await pc.setLocalDescription(await pc.createOffer());
  send({ type: 'offer', room: state.room, to: peerId, sdp: pc.localDescription.sdp });
  log(`offer sent to the publisher ${peerId} (${why})`);
}

async function onOffer(from, sdp) {
  // Whoever offers starts a fresh connection: the old one (if any) is replaced.
  const pc = newPc(from);
  await pc.setRemoteDescription({ type: 'offer', sdp });
  if (state.role === 'publisher' && state.localStream) {
    for (const track of state.localStream.getTracks()) pc.addTrack(track, state.localStream);
  }
  await flushCandidates(pc);
  await pc.setLocalDescription(await pc.createAnswer());
  send({ type: 'answer', room: state.room, to: from, sdp: pc.localDescription.sdp });
  log(`answer sent to ${from}`);
}

async function onAnswer(from, sdp) {
  const pc = state.pcs.get(from);
  // An answer to an offer we have since replaced is stale.
  if (!pc || pc.signalingState !== 'have-local-offer') return;
  await pc.setRemoteDescription({ type: 'answer', sdp });
  await flushCandidates(pc);
}

async function onCandidate(from, candidate) {
  const pc = state.pcs.get(from);
  if (!pc) return;
  if (!pc.remoteDescription) pc.pending.push(candidate);
  else await pc.addIceCandidate(candidate).catch((err) => log(`candidate: ${err}`));
}

const healthy = (pc) => pc !== undefined && !BROKEN.has(pc.connectionState);

/**
 * After `joined` or `resumed`. A viewer offers to the publisher unless its connection
 * to it is still up, and drops connections to anyone else. The publisher keeps its
 * connections: the viewers it serves are not members it is told of.
 */
function reconcilePeers(afterResume) {
  if (state.role === 'publisher') return;
  for (const peerId of [...state.pcs.keys()]) if (!state.peers.has(peerId)) closePc(peerId);
  const publisher = [...state.peers.values()].find((p) => p.role === 'publisher');
  if (!publisher) return;
  if (healthy(state.pcs.get(publisher.peerId))) {
    log('peer connection still up: no re-negotiation needed');
    return;
  }
  watch(publisher.peerId, afterResume ? 're-negotiating' : 'joined');
}

/** Viewer: asks the publisher `peerId` for its stream. */
function watch(peerId, why) {
  void viewerOffer(peerId, why).catch((err) => log(`offer: ${err}`, 'error'));
}

// ---------------------------------------------------------------- signaling

function send(frame) {
  const ws = state.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN) {
    log(`not connected: ${frame.type} not sent`, 'error');
    return;
  }
  ws.send(JSON.stringify(frame));
}

async function getToken() {
  if (state.tokenGiven) return state.token;
  if (state.token && state.tokenExpiresAt - Date.now() > TOKEN_MARGIN_MS) return state.token;
  const res = await fetch('/dev/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: state.user }),
  });
  if (res.status === 404)
    throw new Error('this gateway hands out no development tokens: paste a token under "Token"');
  const body = await res.json();
  if (!res.ok) throw new Error(`${body.error?.code}: ${body.error?.message}`);
  state.token = body.token;
  state.tokenExpiresAt = Date.now() + body.expiresInS * 1000;
  const list = $('rooms');
  list.replaceChildren(
    ...body.rooms.map((r) => Object.assign(document.createElement('option'), { value: r })),
  );
  return state.token;
}

async function connect() {
  clearTimeout(state.reconnectTimer);
  setConn(state.resume ? 'reconnecting' : 'connecting');
  let token;
  try {
    token = await getToken();
  } catch (err) {
    log(`no token: ${err.message}`, 'error');
    scheduleReconnect();
    return;
  }
  if (!state.wanted) return;
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(
    `${scheme}//${location.host}/signaling?access_token=${encodeURIComponent(token)}`,
  );
  state.ws = ws;
  ws.onmessage = (e) => {
    if (state.ws !== ws) return;
    let frame;
    try {
      frame = JSON.parse(e.data);
    } catch {
      return;
    }
    void onFrame(frame).catch((err) => log(`${frame.type}: ${err}`, 'error'));
  };
  ws.onclose = (e) => {
    if (state.ws !== ws) return;
    state.ws = undefined;
    log(
      `socket closed (${e.code}${e.reason ? ` ${e.reason}` : ''})`,
      e.code === 1000 ? 'info' : 'error',
    );
    if (e.code === 4401 && !state.tokenGiven) state.token = undefined;
    if (state.wanted) scheduleReconnect();
    else setConn(state.conn === 'error' ? 'error' : 'left');
  };
}

function scheduleReconnect() {
  if (!state.wanted) return;
  const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** state.attempt++);
  setConn('reconnecting');
  log(`reconnecting in ${delay} ms`);
  state.reconnectTimer = setTimeout(() => void connect(), delay);
}

// The session outlives a reload of the tab: the page resumes instead of joining
// again (a publisher joining anew would find its own old place still taken).
const SESSION_KEY = 'roomcast-demo-session';

function saveSession() {
  const { user, room, role, resume } = state;
  sessionStorage.setItem(SESSION_KEY, JSON.stringify({ user, room, role, resume }));
}

function savedResume() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null');
    if (
      saved &&
      saved.user === state.user &&
      saved.room === state.room &&
      saved.role === state.role
    )
      return saved.resume;
  } catch {
    // A damaged entry is as good as none.
  }
  return undefined;
}

function membership(frame) {
  state.peerId = frame.peerId;
  state.resume = frame.resume;
  saveSession();
  state.status = frame.status;
  state.peers = new Map(
    frame.peers.filter((p) => p.peerId !== frame.peerId).map((p) => [p.peerId, p]),
  );
  state.attempt = 0;
}

async function onFrame(f) {
  switch (f.type) {
    case 'authenticated':
      if (state.resume)
        send({ type: 'resume', room: state.room, resume: state.resume, id: state.nextId++ });
      else send({ type: 'join', room: state.room, role: state.role, id: state.nextId++ });
      return;
    case 'joined':
      membership(f);
      setConn('joined');
      log(`joined ${f.room} as ${f.role} (peer ${f.peerId})`);
      renderRoom();
      renderShare();
      void renderUrls();
      reconcilePeers(false);
      return;
    case 'resumed':
      membership(f);
      setConn('resumed');
      log(`resumed in ${f.room}: same peer ${f.peerId}`);
      renderRoom();
      reconcilePeers(true);
      return;
    case 'peer_joined':
      if (f.peer.peerId === state.peerId) {
        log(`you are on stage now, as ${f.peer.role}`);
        return;
      }
      state.peers.set(f.peer.peerId, f.peer);
      log(`${f.peer.userId} joined as ${f.peer.role}`);
      renderRoom();
      if (state.role === 'viewer' && f.peer.role === 'publisher') watch(f.peer.peerId, 'joined');
      return;
    case 'peer_left':
      if (f.peerId === state.peerId) {
        log(`you left the stage (${f.reason})`);
        return;
      }
      state.peers.delete(f.peerId);
      closePc(f.peerId);
      log(`${f.peerId} left (${f.reason})`);
      renderRoom();
      return;
    case 'room_stats':
      state.stats = { viewers: f.viewers, peakViewers: f.peakViewers };
      renderRoom();
      return;
    case 'hand_raised':
      log(`${f.peer.userId} raised a hand`);
      return;
    case 'room_status':
      state.status = f.status;
      log(`room is ${f.status}`);
      renderRoom();
      if (f.status === 'ended') leave('the room ended');
      return;
    case 'offer':
      await onOffer(f.from, f.sdp);
      return;
    case 'answer':
      await onAnswer(f.from, f.sdp);
      return;
    case 'candidate':
      await onCandidate(f.from, f.candidate);
      return;
    case 'kicked':
      log(`kicked: ${f.reason}`, 'error');
      leave('kicked');
      return;
    case 'error':
      onError(f);
      return;
    default:
      return;
  }
}

function onError(f) {
  log(`error ${f.code}: ${f.message}`, 'error');
  switch (f.code) {
    case 'RESUME_FAILED':
      // Our place is gone (the grace period passed): join again as a new peer.
      for (const peerId of [...state.pcs.keys()]) closePc(peerId);
      state.resume = undefined;
      sessionStorage.removeItem(SESSION_KEY);
      state.peerId = undefined;
      send({ type: 'join', room: state.room, role: state.role, id: state.nextId++ });
      return;
    case 'TOKEN_EXPIRED':
    case 'TOKEN_INVALID':
      if (!state.tokenGiven) state.token = undefined;
      return;
    case 'ROOM_NOT_FOUND':
    case 'ROOM_ENDED':
    case 'ROOM_FULL':
    case 'PUBLISHER_TAKEN':
    case 'NOT_ALLOWED':
      // Refused on join or resume: nothing to retry.
      if (state.conn === 'connecting' || state.conn === 'reconnecting') {
        setConn('error');
        leave(f.code);
      }
      return;
    default:
      return;
  }
}

// ---------------------------------------------------------------- user actions

async function join() {
  const form = $('join');
  if (!form.reportValidity()) return;
  state.user = $('user').value;
  state.room = $('room').value;
  state.role = form.elements.role.value;
  state.source = $('source').value;
  const given = $('token').value.trim();
  state.tokenGiven = given !== '';
  if (state.tokenGiven) state.token = given;
  state.wanted = true;
  state.resume = savedResume();
  state.peerId = undefined;
  state.attempt = 0;
  if (state.role === 'publisher') await startMedia();
  await connect();
}

function leave(why) {
  const wasIn = state.wanted;
  state.wanted = false;
  clearTimeout(state.reconnectTimer);
  for (const peerId of [...state.pcs.keys()]) closePc(peerId);
  if (state.ws && state.ws.readyState === WebSocket.OPEN && state.peerId)
    send({ type: 'leave', room: state.room });
  state.ws?.close(1000, why);
  state.ws = undefined;
  state.peerId = undefined;
  state.resume = undefined;
  sessionStorage.removeItem(SESSION_KEY);
  state.peers.clear();
  state.stats = undefined;
  stopMedia();
  renderRoom();
  renderShare();
  if (wasIn) log(`left (${why})`);
  if (state.conn !== 'error') setConn('left');
}

/** Closes the socket as a network failure would: the page reconnects and resumes. */
function dropSocket() {
  if (!state.ws) return false;
  log('dropping the connection (simulated)', 'error');
  state.ws.close(4000, 'simulated drop');
  return true;
}

/** Figures for people and tests: each peer connection's state and what it decoded. */
async function stats() {
  const out = [];
  for (const [peerId, pc] of state.pcs) {
    let framesDecoded = 0;
    let framesSent = 0;
    for (const r of (await pc.getStats()).values()) {
      if (r.type === 'inbound-rtp' && r.kind === 'video') framesDecoded += r.framesDecoded ?? 0;
      if (r.type === 'outbound-rtp' && r.kind === 'video') framesSent += r.framesSent ?? 0;
    }
    out.push({ peerId, connectionState: pc.connectionState, framesDecoded, framesSent });
  }
  return out;
}

async function renderFrames() {
  if (state.pcs.size === 0) {
    $('frames').textContent = '–';
    return;
  }
  const all = await stats();
  $('frames').textContent =
    state.role === 'viewer'
      ? `${all.reduce((n, s) => n + s.framesDecoded, 0)} decoded`
      : `${all.reduce((n, s) => n + s.framesSent, 0)} sent to ${all.length} viewer(s)`;
}

// ---------------------------------------------------------------- start

function init() {
  $('user').value = params.get('user') ?? `guest-${Math.random().toString(36).slice(2, 6)}`;
  $('room').value = params.get('room') ?? 'demo';
  const role = params.get('role') === 'publisher' ? 'publisher' : 'viewer';
  for (const input of $('join').elements.role) input.checked = input.value === role;
  if (params.get('source') === 'camera') $('source').value = 'camera';
  const showSource = () => {
    $('source-label').hidden = $('join').elements.role.value !== 'publisher';
  };
  for (const input of $('join').elements.role) input.addEventListener('change', showSource);
  showSource();

  $('join').addEventListener('submit', (e) => {
    e.preventDefault();
    void join().catch((err) => log(`join: ${err}`, 'error'));
  });
  $('leave-btn').addEventListener('click', () => leave('left'));
  $('drop-btn').addEventListener('click', () => dropSocket());
  setInterval(() => void renderFrames().catch(() => {}), 1000);
  setConn('idle');
  if (params.get('autojoin') === '1') $('join').requestSubmit();
}

window.demo = { state, stats, dropSocket, join, leave };
init();
