/** The room gauges, counted from the rooms a replica holds before each metrics sample. */
import type { Metrics } from '#shared/runtime/metrics.js';
import { memberOf } from '#shared/room/room.state.js';
import type { RoomEntry } from './room.recovery.js';

/** Sets rooms by status, members by role and publishers by kind. */
export function reportRooms(m: Metrics, rooms: Iterable<RoomEntry>): void {
  const byStatus = { preparing: 0, live: 0, ended: 0 };
  const byRole = { publisher: 0, cohost: 0, viewer: 0 };
  const byKind = { peer: 0, stream: 0 };
  for (const { actor } of rooms) {
    const s = actor.state;
    byStatus[s.status]++;
    // The audience is a count; only the stage is walked (a sample never grows with the room).
    byRole.viewer += s.audience;
    for (const id of s.stage) {
      const member = memberOf(s, id);
      if (member !== undefined) byRole[member.role]++;
    }
    if (s.publisher !== null) byKind[s.publisher.kind]++;
  }
  for (const [status, n] of Object.entries(byStatus)) m.rooms.set(n, { status });
  for (const [role, n] of Object.entries(byRole)) m.members.set(n, { role });
  for (const [kind, n] of Object.entries(byKind)) m.publishers.set(n, { kind });
}
