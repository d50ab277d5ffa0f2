import t from 'tap';
import type { RoomPerms } from '../auth/grants.js';
import { maySeeRoom, viewerMaySee } from './room.access.js';

const none: RoomPerms = { publish: false, view: false, admin: false };
const pub = { isPrivate: false, ownerId: 'owner' };
const priv = { isPrivate: true, ownerId: 'owner' };

t.test('maySeeRoom', (t) => {
  const cases: [string, typeof pub, string | null, RoomPerms | undefined, boolean][] = [
    ['public, anonymous', pub, null, none, true],
    ['public, stranger without perms', pub, 'eve', undefined, true],
    ['private, owner', priv, 'owner', none, true],
    ['private, owner without perms', priv, 'owner', undefined, true],
    ['private, view grant', priv, 'bob', { ...none, view: true }, true],
    ['private, publish grant', priv, 'bob', { ...none, publish: true }, true],
    ['private, admin grant', priv, 'bob', { ...none, admin: true }, true],
    ['private, no grant', priv, 'eve', none, false],
    ['private, perms absent', priv, 'eve', undefined, false],
    ['private, anonymous', priv, null, { ...none, view: true }, false],
  ];
  for (const [name, room, userId, perms, want] of cases) {
    t.equal(maySeeRoom(room, userId, perms), want, name);
  }
  t.end();
});

t.test('viewerMaySee', (t) => {
  const room = (isPrivate: boolean) => ({ id: 'r1', userId: 'owner', isPrivate });
  const cases: [string, boolean, string, string[], boolean][] = [
    ['public, no grants', false, 'eve', [], true],
    ['private, owner', true, 'owner', [], true],
    ['private, names the room', true, 'bob', ['r1'], true],
    ['private, every room', true, 'bob', ['*'], true],
    ['private, names another room', true, 'eve', ['r2'], false],
    ['private, no grants', true, 'eve', [], false],
  ];
  for (const [name, isPrivate, userId, granted, want] of cases) {
    t.equal(viewerMaySee(room(isPrivate), { userId, granted }), want, name);
  }
  t.end();
});
