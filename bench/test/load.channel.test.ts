/**
 * The bench's IPC channel to its load processes: a command sent to a process that
 * has just gone rejects that command, and the bench goes on (it once died of an
 * unhandled EPIPE while closing its fleet).
 */
import t from 'tap';
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Loader } from '../load.channel.js';

const dir = t.testdir();
const script = join(dir, 'gone.cjs');
// Answers its first command, then drops the channel and exits.
writeFileSync(
  script,
  "process.on('message', (m) => process.send({ seq: m.seq, ok: 'done' }, () => process.disconnect()));",
);

void t.test('a command to a process that has gone rejects; nothing else fails', async (t) => {
  const loader = new Loader<{ cmd: string }, { ok: 'done' }>(
    fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    'load generator',
  );
  t.equal((await loader.call({ cmd: 'first' }, 'done')).ok, 'done', 'answered while there');
  await loader.exited;
  await t.rejects(loader.call({ cmd: 'close' }, 'done'), /load generator \d+: close not sent/);
  // A send that fails without a callback would surface here as an 'error' event.
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.pass('still running');
});
