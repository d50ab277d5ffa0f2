// Roomcast demo page, on the client SDK (/sdk/roomcast.js): a publisher sends to
// its viewers peer-to-peer (the SDK's RoomRtc negotiates: viewers offer, the
// publisher answers, and the SDK sets the room live when its owner publishes) or
// broadcasts through SRS (WHIP; viewers then watch with WHEP). Plain JavaScript,
// no build step.
//
// The tab keeps its session in sessionStorage: a reload resumes the publisher's
// place (same peer id, never PUBLISHER_TAKEN for itself). A viewer leaves on page
// hide, so a closed viewer is gone at once; a reloaded viewer simply joins again.
// Only a real network drop waits for the grace period (the SDK resumes it).
import { RoomcastClient } from '/sdk/roomcast.js';
import { startMedia, stats } from './demo.media.js';
import { startRtc } from './demo.p2p.js';
import { refreshSrs, startWhip } from './demo.broadcast.js';
import { createRoom, devToken, forgetSession, loadSession, saveSession } from './demo.session.js';
import * as view from './demo.view.js';

const { $, log } = view;
const params = new URLSearchParams(location.search);
/** How often the SRS line asks the stream service again, in ms. */
const SRS_POLL_MS = 5000;

const state = {
  /** 'idle' | 'connecting' | 'joined' | 'reconnecting' | 'resumed' | 'left' | 'error' */
  conn: 'idle',
  /** Every connection state the page went through, oldest first (for people and tests). */
  history: ['idle'],
  /** True while the user wants to be in the room. */
  wanted: false,
  user: '',
  room: '',
  /** What the form asked for: 'publisher' | 'viewer', and 'p2p' | 'srs'. */
  role: 'viewer',
  mode: 'p2p',
  source: 'pattern',
  /** A token pasted into the form (else development tokens from /dev/token). */
  token: undefined,
  /** The newest token the client got: for the REST calls. */
  apiToken: undefined,
  client: undefined,
  /** The SDK's Room: peer id, role, status, stage, stats. */
  membership: undefined,
  rtc: undefined,
  media: undefined,
  whip: undefined,
  whep: undefined,
  srs: undefined,
  /** Why WHIP or WHEP failed: shown instead of the stream service's view. */
  srsProblem: undefined,
  urls: undefined,
  urlsError: undefined,
  srsTimer: undefined,
};

function setConn(conn) {
  if (state.conn !== conn) state.history.push(conn);
  state.conn = conn;
  view.renderConn(state);
}

function render() {
  view.renderConn(state);
  view.renderRoom(state);
  view.renderSrs(state);
}

// ---------------------------------------------------------------- joining

async function join(resume) {
  const form = $('join');
  if (!form.reportValidity()) return;
  state.user = $('user').value;
  state.room = $('room').value;
  state.role = form.elements.role.value;
  state.mode = state.role === 'publisher' ? form.elements.mode.value : 'p2p';
  state.source = $('source').value;
  state.token = $('token').value.trim() || undefined;
  state.wanted = true;
  saveSession(state, resume);
  setConn(resume ? 'reconnecting' : 'connecting');
  view.renderShare(state);
  if (state.role === 'publisher' && !state.media) {
    state.media = await startMedia(state.source, state.user, log);
    const to = state.mode === 'srs' ? 'sent to SRS' : 'sent to each viewer';
    view.showVideo('local', state.media.stream, `Your stream (${to}).`);
  }
  const client = new RoomcastClient({ url: wsUrl(), token: () => devToken(state) });
  state.client = client;
  client.on('state', (s) => {
    if (client !== state.client) return;
    if (s === 'reconnecting') setConn('reconnecting');
    if (s === 'closed' && state.wanted) leave('the connection was refused', 'error');
    render();
  });
  client.on('reconnecting', ({ attempt, delayMs }) =>
    log(`connection lost: reconnecting in ${delayMs} ms (attempt ${attempt})`, 'error'),
  );
  client.on('failure', (e) => log(`${e.code}: ${e.message}`, 'error'));
  try {
    await client.connect();
    const [room, how] = await enter(client, resume);
    // Nothing awaited from here on: frames after `joined`/`resumed` find the RTC helper ready.
    if (client === state.client) adopt(room, how);
  } catch (err) {
    log(`${err.code ?? 'error'}: ${err.message}`, 'error');
    if (client === state.client) leave(err.code ?? 'error', 'error');
  }
}

const wsUrl = () =>
  `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/signaling`;

/** Resumes the tab's place if it has one, else joins (creating a publisher's room). */
async function enter(client, resume) {
  if (resume) {
    try {
      const room = await client.resumeRoom(state.room, resume);
      log(`resumed in ${room.room}: same peer ${room.peerId}, ${room.role}`);
      return [room, 'resumed'];
    } catch (err) {
      log(`resume refused (${err.code}): joining anew`, 'error');
    }
  }
  // Broadcasting through SRS takes the room's publisher slot there: the page follows the room as audience.
  const as = state.role === 'publisher' && state.mode === 'p2p' ? 'publisher' : 'viewer';
  let room;
  try {
    room = await client.join(state.room, as);
  } catch (err) {
    if (err.code !== 'ROOM_NOT_FOUND' || state.role !== 'publisher') throw err;
    await createRoom(state);
    log(`created room ${state.room}: you own it`);
    room = await client.join(state.room, as);
  }
  log(`joined ${room.room} as ${room.role} (peer ${room.peerId})`);
  return [room, 'joined'];
}

function adopt(room, how) {
  state.membership = room;
  setConn(how);
  saveSession(state);
  room.on('change', () => {
    if (room !== state.membership) return;
    saveSession(state);
    view.renderRoom(state);
  });
  room.on('resumed', () => {
    setConn('resumed');
    log(`resumed: same peer ${room.peerId}`);
  });
  room.on('room_status', (f) => log(`room is ${f.status}`));
  room.on('peer_joined', (f) => log(`${f.peer.userId} is on stage as ${f.peer.role}`));
  room.on('peer_left', (f) => log(`${f.peerId} left the stage (${f.reason})`));
  room.on('closed', ({ reason, error }) => void onClosed(room, reason, error));
  if (state.mode === 'p2p') startRtc(state, room);
  else void startWhip(state, render);
  void refreshSrs(state, render);
  state.srsTimer = setInterval(() => void refreshSrs(state, render), SRS_POLL_MS);
  view.renderShare(state);
  render();
}

async function onClosed(room, reason, error) {
  if (room !== state.membership || !state.wanted) return;
  if (reason !== 'resume_failed') {
    leave(reason);
    return;
  }
  // The place is gone (the grace period passed): join again as a new peer.
  log(`resume refused (${error?.code}): joining again`, 'error');
  stopMedia(false);
  try {
    const [next, how] = await enter(state.client, undefined);
    adopt(next, how);
  } catch (err) {
    leave(err.code ?? 'error', 'error');
  }
}

// ---------------------------------------------------------------- leaving

function stopMedia(all = true) {
  state.rtc?.close();
  state.rtc = undefined;
  state.whip?.stop();
  state.whip = undefined;
  state.whep?.stop();
  state.whep = undefined;
  clearInterval(state.srsTimer);
  clearInterval(state.offerTimer);
  view.showVideo('remote', null);
  if (!all) return;
  state.media?.stop();
  state.media = undefined;
  view.showVideo('local', null, 'Nothing yet.');
}

function leave(why, conn = 'left') {
  const wasIn = state.wanted;
  state.wanted = false;
  const { client, membership: room } = state;
  state.client = state.membership = undefined;
  stopMedia();
  // `leave` frees the place at once; only then the socket closes.
  if (room?.active)
    void room
      .leave()
      .catch(() => undefined)
      .finally(() => client?.close());
  else client?.close();
  forgetSession();
  Object.assign(state, { srs: undefined, srsProblem: undefined, urls: undefined });
  state.urlsError = undefined;
  view.renderShare(state);
  if (wasIn) log(`left (${why})`);
  setConn(conn);
  render();
}

/**
 * The tab goes away (closed, reloaded, navigated). Audience leaves at once: a closed
 * viewer must not linger in the publisher's count; a reload joins again. A stage
 * member keeps its place (a page cannot tell a reload from a close): the reload
 * resumes it; a closed one is let go after the grace period.
 */
function onPageHide() {
  const { client, membership: room } = state;
  if (!state.wanted || !room?.active) return;
  // The page is going, not leaving: nothing below may count as a leave (which forgets the session).
  state.wanted = false;
  state.client = undefined;
  if (room.role === 'viewer') {
    saveSession(state, null);
    stopMedia();
    void room.leave().catch(() => undefined);
  } else {
    saveSession(state);
  }
  // The socket first: a peer's new offer must wait for this page's successor, not reach this one.
  client.close();
  stopMedia();
}

/** Closes the socket as a network failure would: the SDK reconnects and resumes. */
function dropSocket() {
  const ws = state.client?.ws;
  if (!ws) return false;
  log('dropping the connection (simulated)', 'error');
  ws.close(4000, 'simulated drop');
  return true;
}

// ---------------------------------------------------------------- start

function init() {
  const saved = loadSession();
  const get = (key) => saved?.[key] ?? params.get(key);
  $('user').value = get('user') ?? `guest-${Math.random().toString(36).slice(2, 6)}`;
  $('room').value = get('room') ?? 'demo';
  const form = $('join');
  const role = get('role') === 'publisher' ? 'publisher' : 'viewer';
  for (const input of form.elements.role) input.checked = input.value === role;
  const mode = get('mode') === 'srs' ? 'srs' : 'p2p';
  for (const input of form.elements.mode) input.checked = input.value === mode;
  if (get('source') === 'camera') $('source').value = 'camera';
  if (saved?.token) $('token').value = saved.token;
  const showPublisherFields = () => {
    $('publisher-fields').hidden = form.elements.role.value !== 'publisher';
  };
  for (const input of form.elements.role) input.addEventListener('change', showPublisherFields);
  showPublisherFields();

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void join(undefined).catch((err) => log(`join: ${err}`, 'error'));
  });
  $('leave-btn').addEventListener('click', () => leave('left'));
  $('drop-btn').addEventListener('click', () => dropSocket());
  addEventListener('pagehide', onPageHide);
  setInterval(
    () =>
      void stats(state).then(
        (s) => view.renderFrames(state, s),
        () => {},
      ),
    1000,
  );
  setConn('idle');
  view.renderSrs(state);
  if (saved) {
    log(saved.resume ? 'this tab was in the room: resuming' : 'this tab was in the room: joining');
    void join(saved.resume ?? undefined).catch((err) => log(`join: ${err}`, 'error'));
  } else if (params.get('autojoin') === '1') form.requestSubmit();
}

window.demo = {
  state,
  snapshot: () => view.snapshot(state),
  stats: () => stats(state),
  dropSocket,
  join,
  leave,
};
init();
