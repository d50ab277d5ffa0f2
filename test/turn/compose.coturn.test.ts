/**
 * compose.yaml's coturn, run as compose runs it but without Docker: its entrypoint
 * (the shell script that writes the secret into a config file) and its command, with
 * the turn_secret secret as a file; and the gateway's ICE settings as compose gives
 * them, read by config/config.ts. The credentials the gateway would hand out must
 * open a relay on that coturn, and a wrong password must not.
 *
 * Overrides, and only these: /run/secrets/turn_secret and /tmp/ become the test's
 * temporary directory; the fixed ports (3478, the relay range) become free ones;
 * coturn listens and relays on 127.0.0.1 only and keeps its pid file and database in
 * the temporary directory. test/compose.run.test.ts runs the rest of compose.yaml
 * (and gives the gateway the same two settings), not coturn.
 */
import t from 'tap';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes, randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '#config/config.js';
import { iceServersFor } from '#shared/auth/turn.credentials.js';
import { loadCompose } from '../helpers/compose.js';
import { runTurnserver, TURNSERVER } from '../helpers/coturn.js';
import { freePort } from '../helpers/net.js';
import { turnAllocate } from '../helpers/turn.client.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

t.test('compose’s coturn takes the credentials compose’s gateway hands out', async (t) => {
  if (!existsSync(TURNSERVER)) {
    t.fail('coturn is missing: apt-get install -y coturn (npm test’s pretest installs it)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'roomcast-compose-coturn-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const vars: Record<string, string> = { ROOMCAST_TURN_SECRET: randomBytes(24).toString('hex') };
  const compose = loadCompose(join(root, 'compose.yaml'), vars);
  const coturn = compose.services.coturn;
  const gateway = compose.services.gateway?.environment ?? {};
  const secretEnv = compose.secrets?.turn_secret?.environment ?? '';
  const secretFile = join(dir, 'turn_secret');
  writeFileSync(secretFile, vars[secretEnv] ?? '', { mode: 0o600 });

  // The entrypoint as compose has it: `sh -c <script> turnserver <command...>`.
  const [shell = '', flag = '', script = '', name = ''] = coturn?.entrypoint ?? [];
  t.same([shell, flag, name], ['sh', '-c', 'turnserver'], 'a shell that execs turnserver');
  const localScript = (secret: string) =>
    script.replaceAll('/tmp/', `${dir}/`).replaceAll('/run/secrets/turn_secret', secret);
  const port = await freePort();
  const minPort = 20_000 + randomInt(0, 200) * 200;
  const composePort = coturn?.command
    ?.find((a) => a.startsWith('--listening-port='))
    ?.split('=')[1];
  const args = (coturn?.command ?? []).map((a) =>
    a.startsWith('--listening-port=')
      ? `--listening-port=${port}`
      : a.startsWith('--min-port=')
        ? `--min-port=${minPort}`
        : a.startsWith('--max-port=')
          ? `--max-port=${minPort + 99}`
          : a,
  );
  const local = [
    '--listening-ip=127.0.0.1',
    '--relay-ip=127.0.0.1',
    `--pidfile=${join(dir, 'turnserver.pid')}`,
    `--userdb=${join(dir, 'turndb')}`,
  ];
  // Without its secret file it does not start at all.
  const missing = runTurnserver(shell, [flag, localScript(join(dir, 'none')), name, ...args]);
  await t.rejects(missing.ready, /turnserver exited with 1/, 'no secret file: it stops');
  const run = runTurnserver(shell, [flag, localScript(secretFile), name, ...args, ...local]);
  t.teardown(() => run.stop());
  await run.ready;
  t.notMatch(run.log(), vars.ROOMCAST_TURN_SECRET ?? '', 'coturn does not print the secret');

  // The gateway's settings as compose gives them (the secret file mapped like the rest).
  t.equal(gateway.TURN_SECRET_FILE, '/run/secrets/turn_secret');
  const { ice } = loadConfig({
    GATEWAY_ICE_SERVERS: gateway.GATEWAY_ICE_SERVERS ?? '',
    TURN_SECRET_FILE: secretFile,
  });
  const turn = iceServersFor(ice, 'alice', Date.now() + 3_600_000).find((s) => s.username);
  t.ok(turn, 'the gateway hands out a TURN entry');
  for (const url of turn?.urls ?? [])
    t.match(url, new RegExp(`^turns?:[^:]+:${composePort}(\\?|$)`), `${url}: coturn's port`);
  const allocate = (password: string) =>
    turnAllocate('127.0.0.1', port, turn?.username ?? '', password);
  t.same(await allocate(turn?.credential ?? ''), { ok: true }, 'its credentials open a relay');
  t.match(await allocate('d3JvbmcgcGFzc3dvcmQ='), { ok: false, code: 401 }, 'a wrong one: 401');
});
