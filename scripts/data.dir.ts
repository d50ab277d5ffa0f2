/**
 * Where `npm start` keeps its state (JetStream store, the dev secrets, the NATS
 * credentials), and where the other scripts look for it: ROOMCAST_DATA_DIR, or
 * `.data` under the repository root, whatever the current directory (a script run
 * from elsewhere finds the same secret `npm start` made).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest folder above this file with a package.json. */
export function repoRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    // Scripts always live inside the repository: this is a broken install.
    if (up === dir) throw new Error(`no package.json above ${from}`);
    dir = up;
  }
  return dir;
}

/** The data directory: ROOMCAST_DATA_DIR (relative to the current directory), else `<root>/.data`. */
export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  const set = env.ROOMCAST_DATA_DIR;
  return set === undefined || set === '' ? join(repoRoot(), '.data') : resolve(set);
}
