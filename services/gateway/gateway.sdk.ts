/**
 * The client SDK for the pages this gateway serves (with GATEWAY_DEMO, beside the
 * demo): `GET /sdk/<module>.js`, the ES modules of sdk/, which import each other by
 * relative `.js` paths, so a page loads them as they are:
 * `import { RoomcastClient } from '/sdk/roomcast.js'`.
 *
 * Run from dist/ (after `npm run build`), the gateway serves dist/sdk/*.js as tsc
 * wrote them. Run from source (tests, `npm run start:gateway`), there is no compiled
 * copy beside it: sdk/<module>.ts is compiled on its first request with the
 * TypeScript compiler's `transpileModule` (types stripped, no type check: that is
 * `npm run build`'s and `tsc --noEmit`'s job) and kept in memory. `typescript` is a
 * development dependency; it is loaded only then, never by a gateway run from dist/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { ErrorCode, errorBody } from '#shared/wire/errors.js';
import { Reply, sendJson, type HttpContext } from './gateway.http.js';

/** A module name of sdk/ (no path: nothing outside that folder is reachable). */
const MODULE = /^([a-z][a-z.]{0,63})\.js(\.map)?$/;

/** sdk/ beside services/: compiled .js under dist/, .ts in the source tree. */
const SDK_DIR = fileURLToPath(new URL('../../sdk/', import.meta.url));

/** The source of `/sdk/<file>`, or undefined when there is no such module. */
export async function sdkModule(
  file: string,
  cache: Map<string, string>,
): Promise<string | undefined> {
  const m = MODULE.exec(file);
  if (m === null) return undefined;
  const compiled = `${SDK_DIR}${file}`;
  if (existsSync(compiled)) return readFileSync(compiled, 'utf8');
  const source = `${SDK_DIR}${m[1] ?? ''}.ts`;
  if (m[2] !== undefined || m[1]?.endsWith('.test') === true || !existsSync(source))
    return undefined;
  let js = cache.get(source);
  if (js === undefined) {
    const ts = (await import('typescript')).default;
    js = ts.transpileModule(readFileSync(source, 'utf8'), {
      fileName: source,
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        verbatimModuleSyntax: true,
      },
    }).outputText;
    cache.set(source, js);
  }
  return js;
}

/** Registers `GET /sdk/:file`. */
export function registerSdk(app: TemplatedApp, ctx: HttpContext): void {
  const cache = new Map<string, string>();
  const notFound = (res: HttpResponse) =>
    sendJson(res, 404, { error: errorBody(ErrorCode.NOT_FOUND) });
  app.get('/sdk/:file', (res, req) => {
    const file = req.getParameter(0);
    if (!MODULE.test(file)) {
      notFound(res);
      return;
    }
    const reply = new Reply(res);
    sdkModule(file, cache).then(
      (body) => {
        if (reply.aborted) return;
        if (body === undefined) {
          reply.error(errorBody(ErrorCode.NOT_FOUND));
          return;
        }
        const type = file.endsWith('.map') ? 'application/json' : 'text/javascript';
        res.cork(() => {
          res
            .writeStatus('200 OK')
            .writeHeader('content-type', `${type}; charset=utf-8`)
            .writeHeader('cache-control', 'no-store')
            .writeHeader('x-content-type-options', 'nosniff')
            .end(body);
        });
      },
      (err: unknown) => reply.fail(err, ctx.log),
    );
  });
  ctx.log.info('client SDK on', { path: '/sdk/roomcast.js' });
}
