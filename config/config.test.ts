import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from './config.js';

const SECRET = 'a-secret-of-at-least-thirty-two-bytes-0123456789';

t.test('X_FILE gives a setting from a file (Docker and Kubernetes secrets)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'roomcast-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'jwt_secret');
  writeFileSync(file, `${SECRET}\n`);

  t.equal(loadConfig({ AUTH_JWT_SECRET_FILE: file }).auth.jwtSecret, SECRET, 'newline dropped');
  writeFileSync(join(dir, 'port'), '9000');
  t.equal(loadConfig({ GATEWAY_PORT_FILE: join(dir, 'port') }).gateway.port, 9000, 'any setting');
  t.equal(loadConfig({ AUTH_JWT_SECRET: SECRET, AUTH_JWT_SECRET_FILE: '' }).auth.jwtSecret, SECRET);

  t.throws(
    () => loadConfig({ AUTH_JWT_SECRET: SECRET, AUTH_JWT_SECRET_FILE: file }),
    /AUTH_JWT_SECRET and AUTH_JWT_SECRET_FILE are both set/,
  );
  t.throws(
    () => loadConfig({ AUTH_JWT_SECRET_FILE: join(dir, 'missing') }),
    /AUTH_JWT_SECRET_FILE=".*missing": cannot read it \(ENOENT\)/,
  );
  writeFileSync(file, 'short');
  const err = t.throws(() => loadConfig({ AUTH_JWT_SECRET_FILE: file })) as Error;
  t.match(err.message, /at least 32 bytes/);
  t.notMatch(err.message, /short/, 'the secret is not echoed');
});
