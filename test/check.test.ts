/**
 * Typecheck, lint and format are part of `npm test`: each is a test here, so a
 * failure is counted with the others and does not hide the rest of the suite.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));

const run = (cmd: string, args: string[]) =>
  spawnSync(cmd, args, { cwd: root, encoding: 'utf8', timeout: 240_000 });

t.test('typecheck (tsc --noEmit)', async (t) => {
  const r = run('npx', ['tsc', '--noEmit', '-p', 'tsconfig.json']);
  t.equal(r.status, 0, r.stdout + r.stderr);
});

t.test('lint (eslint, typescript-eslint strictTypeChecked)', async (t) => {
  const r = run('npx', ['eslint', '.']);
  t.equal(r.status, 0, r.stdout + r.stderr);
});

t.test('format (prettier --check)', async (t) => {
  const r = run('npx', ['prettier', '--check', '.']);
  t.equal(r.status, 0, r.stdout + r.stderr);
});
