import t from 'tap';
import { LocalMember } from './gateway.conn.js';

/** Frames a detached membership hands over on attach, as the client would receive them. */
function drain(m: LocalMember): string[] {
  const got: string[] = [];
  m.attach({ send: (d: string | Uint8Array) => got.push(String(d)) } as never);
  return got;
}

t.test('what a dropped client misses is kept, bounded in frames and in bytes', async (t) => {
  const byFrames = new LocalMember('r', 'p', 'viewer', 0, { frames: 3, bytes: 1_000_000 });
  for (const f of ['a', 'b', 'c', 'd', 'e']) byFrames.deliver(f);
  t.same(drain(byFrames), ['c', 'd', 'e'], 'the newest frames, in order');

  const byBytes = new LocalMember('r', 'p', 'viewer', 0, { frames: 100, bytes: 10 });
  for (const f of ['1234', '5678', '90ab']) byBytes.deliver(f);
  t.same(drain(byBytes), ['5678', '90ab'], 'old frames give way to stay under the byte budget');

  const tooBig = new LocalMember('r', 'p', 'viewer', 0, { frames: 100, bytes: 4 });
  tooBig.deliver('ok');
  tooBig.deliver('much too large');
  t.same(drain(tooBig), ['ok'], 'a frame over the whole budget is dropped, the rest kept');

  const off = new LocalMember('r', 'p', 'viewer', 0, { frames: 0, bytes: 100 });
  off.deliver('x');
  t.same(drain(off), [], 'buffering can be switched off');

  const again = new LocalMember('r', 'p', 'viewer', 0, { frames: 2, bytes: 8 });
  again.deliver('1234');
  t.same(drain(again), ['1234']);
  again.detach(0);
  again.deliver('5678');
  again.deliver('abcd');
  t.same(drain(again), ['5678', 'abcd'], 'the byte count starts over after each attach');
});
