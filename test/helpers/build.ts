/**
 * `npm run build` for tests that run what it produces (`npm start`'s script from
 * dist/): built only when a source is newer than its output, and by one test file at a
 * time. tsc rewrites dist/ in place, file by file: a build running while another test's
 * processes load dist/ hands them half-written modules ("does not provide an export
 * named …"), which failed the demo test in clean-clone runs. Under the lock a second
 * test finds the build fresh and leaves dist/ alone.
 */
import type { Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const lockDir = join(root, 'dist.build-lock');
/** A lock older than this was left by a test process that died mid-build. */
const STALE_LOCK_MS = 5 * 60_000;

/** Sources that `npm run build` compiles whose dist/ output is missing or older. */
function staleOutputs(): string[] {
  const stale: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        if (!['test', 'demo', 'examples'].includes(entry.name)) walk(path);
      } else if (path.endsWith('.ts') && !path.endsWith('.test.ts')) {
        const out = join(root, 'dist', path.replace(/\.ts$/, '.js'));
        if (!existsSync(out) || statSync(out).mtimeMs < statSync(join(root, path)).mtimeMs)
          stale.push(path);
      }
    }
  };
  // sdk/: the gateway run from dist/ serves dist/sdk/ to the page.
  for (const dir of ['config', 'shared', 'services', 'scripts', 'sdk'])
    if (existsSync(join(root, dir))) walk(dir);
  return stale;
}

async function lock(): Promise<void> {
  for (;;) {
    try {
      mkdirSync(lockDir);
      return;
    } catch {
      try {
        if (Date.now() - statSync(lockDir).mtimeMs > STALE_LOCK_MS)
          rmSync(lockDir, { force: true, recursive: true });
      } catch {
        // Released meanwhile: try again.
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Builds when a source is newer than its output; false (after failing `t`) when the build fails. */
export async function buildIfStale(t: Test): Promise<boolean> {
  await lock();
  try {
    const stale = staleOutputs();
    if (stale.length === 0) return true;
    const build = spawnSync(
      process.execPath,
      [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      { cwd: root, encoding: 'utf8' },
    );
    t.equal(build.status, 0, `build (${stale[0]} was stale): ${build.stdout}${build.stderr}`);
    return build.status === 0;
  } finally {
    rmSync(lockDir, { force: true, recursive: true });
  }
}
