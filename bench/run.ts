/**
 * `npm run bench`: runs the benchmark scenarios and prints their tables (markdown),
 * our gateway beside the `ws` baseline, each figure the median of interleaved runs.
 *
 *   npm run bench                          every scenario (several minutes)
 *   npm run bench -- --quick               smaller and shorter (about a minute)
 *   npm run bench -- --only relay,latency  some scenarios
 *   npm run bench -- --profile             also write V8 CPU profiles of our gateway
 *   npm run bench -- --loaders 3           load-generator processes per system (default 2)
 *   npm run bench -- --servers ours        run only our gateway (or only the baseline)
 *   npm run bench -- --servers ours,peerjs our gateway and the PeerJS server (npm `peer`,
 *                                          a devDependency; by default in relay and
 *                                          latency when installed)
 *   npm run bench -- --against ../old      another build of the gateway in the baseline's place
 *                                          (a directory with package.json, node_modules, dist/)
 *
 * The results also go to bench/results/ (markdown and JSON).
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CORES, killAll, loadAverage } from './bench.procs.js';
import { renderSection, type BenchContext, type Scenario, type Section } from './bench.scenario.js';
import type { ServerKind } from './bench.system.js';
import { peerjsInstalled } from './peerjs.system.js';
import { audience } from './scenario.audience.js';
import { hooksScenario } from './scenario.hooks.js';
import { idle } from './scenario.idle.js';
import { latency } from './scenario.latency.js';
import { relay } from './scenario.relay.js';
import { rooms } from './scenario.rooms.js';
import { validate } from './validate.js';

/** Every scenario, in the order they run. A new one is a module and a line here. */
const scenarios: Scenario[] = [validate, relay, latency, idle, rooms, hooksScenario, audience];

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    loaders: { type: 'string', default: '2' },
    against: { type: 'string' },
    servers: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(
    `npm run bench -- [--quick] [--only ${scenarios.map((s) => s.name).join(',')}] [--profile] [--loaders N] [--servers ours,baseline,peerjs,floor] [--against DIR]\n`,
  );
  process.exit(0);
}
const wanted = values.only?.split(',').map((s) => s.trim()) ?? scenarios.map((s) => s.name);
const unknown = wanted.filter((w) => !scenarios.some((s) => s.name === w));
if (unknown.length > 0) {
  process.stderr.write(
    `unknown scenario(s): ${unknown.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}\n`,
  );
  process.exit(2);
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const servers =
  values.servers ?? (peerjsInstalled(root) ? 'ours,baseline,peerjs,floor' : 'ours,baseline,floor');
const resultsDir = join(root, 'bench/results');
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const profileDir = values.profile ? join(resultsDir, `profiles-${stamp}`) : undefined;
mkdirSync(profileDir ?? resultsDir, { recursive: true });

process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });

const ctx: BenchContext = {
  root,
  quick: values.quick,
  secret: randomBytes(32).toString('base64url'),
  profileDir,
  loaders: Math.max(1, Number(values.loaders)),
  against: values.against === undefined ? undefined : resolve(values.against),
  servers: servers
    .split(',')
    .map((s) => s.trim())
    .filter(
      (s): s is ServerKind => s === 'ours' || s === 'baseline' || s === 'peerjs' || s === 'floor',
    ),
  names: {
    ours: 'uWS gateway',
    baseline: values.against === undefined ? 'ws baseline' : `gateway @ ${values.against}`,
    peerjs: 'PeerJS server 1.0.2',
    floor: 'bare relay',
  },
  log: (msg) => process.stderr.write(`[bench] ${msg}\n`),
};

function natsVersion(): string {
  try {
    return execFileSync('nats-server', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'nats-server (version unknown)';
  }
}

const started = Date.now();
const machine = `${CORES} × ${cpus()[0]?.model.trim() ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ${natsVersion()}`;
const header = [
  `## Benchmark run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC${ctx.quick ? ' (--quick)' : ''}`,
  '',
  `- machine: ${machine}`,
  `- load average at start: ${loadAverage()} (shared machine: other work runs beside the benchmark)`,
  '',
].join('\n');
process.stdout.write(header + '\n');

const sections: { name: string; section?: Section; error?: string }[] = [];
for (const s of scenarios.filter((x) => wanted.includes(x.name))) {
  const t0 = Date.now();
  try {
    const section = await s.run(ctx);
    sections.push({ name: s.name, section });
    process.stdout.write(renderSection(section) + '\n');
  } catch (err) {
    const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
    sections.push({ name: s.name, error });
    process.stdout.write(`### ${s.name}: FAILED\n\n\`\`\`\n${error}\n\`\`\`\n\n`);
  }
  ctx.log(`${s.name} took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

const goals = sections.flatMap((s) => s.section?.goals ?? []);
const footer = [
  `- goals: ${goals.filter((g) => g.met).length} of ${goals.length} met`,
  `- load average at the end: ${loadAverage()}; the run took ${((Date.now() - started) / 1000).toFixed(0)} s`,
  '',
].join('\n');
process.stdout.write(footer);

const markdown = [
  header,
  ...sections.map((s) => (s.section ? renderSection(s.section) : `### ${s.name}: FAILED\n`)),
  footer,
].join('\n');
writeFileSync(join(resultsDir, `bench-${stamp}.md`), markdown);
writeFileSync(
  join(resultsDir, `bench-${stamp}.json`),
  JSON.stringify({ machine, quick: ctx.quick, sections }, null, 2),
);
ctx.log(`results in bench/results/bench-${stamp}.{md,json}`);
process.exit(sections.some((s) => s.error !== undefined) ? 1 : 0);
