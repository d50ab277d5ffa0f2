/**
 * How a service process names itself in traces, metrics and logs: the package
 * version and, for services without a configured id, an instance id.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let version: string | undefined;

/** The version in the nearest package.json above this file (source or dist alike). */
export function packageVersion(): string {
  if (version !== undefined) return version;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        version?: unknown;
      };
      if (typeof pkg.version === 'string') return (version = pkg.version);
    } catch {
      // not here: look one level up
    }
    const up = dirname(dir);
    if (up === dir) return (version = '0.0.0');
    dir = up;
  }
}

/** An instance id for a service without a configured one: host and pid. */
export function processInstanceId(): string {
  return `${hostname()
    .replace(/[^A-Za-z0-9_-]/g, '_')
    .slice(0, 32)}-${process.pid}`;
}
