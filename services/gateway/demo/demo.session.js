// The tab's session and credentials: what a reload needs to take the tab's place
// back (kept in sessionStorage, so it lives as long as the tab and no longer), the
// development token the SDK asks for, and creating a publisher's room.
import { $ } from './demo.view.js';

const SESSION_KEY = 'roomcast-demo-session';

export function loadSession() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null');
  } catch {
    return null; // A damaged entry is as good as none.
  }
}

/**
 * Saves the form and `resume`, the resume token while the place is ours (by default
 * the membership's current one: it changes with every resume), or null to join anew.
 */
export function saveSession(state, resume = currentResume(state)) {
  const { user, room, role, mode, source, token } = state;
  sessionStorage.setItem(
    SESSION_KEY,
    JSON.stringify({ user, room, role, mode, source, token, resume }),
  );
}

const currentResume = (state) =>
  state.membership?.active ? state.membership.resumeToken : undefined;

export function forgetSession() {
  sessionStorage.removeItem(SESSION_KEY);
}

/** The SDK's token provider: the pasted token, or a development token for the name. */
export async function devToken(state) {
  if (state.token) return (state.apiToken = state.token);
  const res = await fetch('/dev/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: state.user }),
  });
  if (res.status === 404)
    throw new Error('this gateway hands out no development tokens: paste a token under "Token"');
  const body = await res.json();
  if (!res.ok) throw new Error(`${body.error?.code}: ${body.error?.message}`);
  $('rooms').replaceChildren(
    ...body.rooms.map((r) => Object.assign(document.createElement('option'), { value: r })),
  );
  return (state.apiToken = body.token);
}

/**
 * A publisher's room that does not exist yet is created, so that the publisher owns
 * it: only the owner may set a peer-to-peer room live (the SDK does when it publishes).
 */
export async function createRoom(state) {
  const res = await fetch('/api/rooms', {
    method: 'POST',
    headers: { authorization: `Bearer ${state.apiToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ roomId: state.room, title: `${state.user}'s room`, isPrivate: false }),
  });
  if (res.ok || res.status === 409) return;
  const body = await res.json().catch(() => ({}));
  throw Object.assign(new Error(body.error?.message ?? `HTTP ${res.status}`), {
    code: body.error?.code ?? 'INTERNAL',
  });
}
