/**
 * Loads uWebSockets.js's native binary, and nothing else.
 *
 * The npm package we use (`@trufflesuite/uws-js-unofficial`, aliased as
 * `uWebSockets.js`) silently falls back to a slow JavaScript imitation built on
 * `ws` when its binary does not load (another Node ABI, another platform, or
 * UWS_USE_FALLBACK set). A server on that fallback would pass every functional
 * test and fail under load, so we require the binary directly and refuse to start
 * without it.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import type * as UwsModule from 'uWebSockets.js';

export type Uws = typeof UwsModule;

/** Thrown when the native uWebSockets.js binary cannot be used. */
export class UwsUnavailableError extends Error {
  override readonly name = 'UwsUnavailableError';
}

const require = createRequire(import.meta.url);

/**
 * The native module; throws `UwsUnavailableError` with the reason and the fix.
 * `abi` is Node's module ABI (`process.versions.modules`); tests pass another one.
 */
export function loadNativeUws(
  env: NodeJS.ProcessEnv = process.env,
  abi: string = process.versions.modules,
): Uws {
  const binary = `uws_${process.platform}_${process.arch}_${abi}.node`;
  if (/^(1|true)$/i.test(env.UWS_USE_FALLBACK ?? '')) {
    throw new UwsUnavailableError(
      'UWS_USE_FALLBACK is set: our servers never run on the JavaScript fallback of uWebSockets.js. Unset it.',
    );
  }
  let dir: string;
  try {
    dir = dirname(require.resolve('uWebSockets.js/package.json'));
  } catch (err) {
    throw new UwsUnavailableError('uWebSockets.js is not installed: run `npm ci`', { cause: err });
  }
  try {
    return require(join(dir, 'binaries', binary)) as Uws;
  } catch (err) {
    throw new UwsUnavailableError(
      `the native uWebSockets.js binary ${binary} does not load on Node ${process.version} ` +
        `(${process.platform}/${process.arch}); uWebSockets.js needs Node 20 on linux/darwin x64 or arm64. ` +
        `Refusing to start on the JavaScript fallback. Cause: ${(err as Error).message}`,
      { cause: err },
    );
  }
}
