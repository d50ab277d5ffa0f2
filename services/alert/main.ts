/**
 * Alert service entry point: the only file here that reads the environment,
 * handles signals and opens connections (through shared/runtime/service.main.ts).
 *
 * Any number may run: one is active, the others stand by until its lease is free
 * (alert.leader.ts). An active instance that loses its lease exits (75), so that
 * whatever supervises it starts it again, as a standby.
 */
import { ExitCode } from '#shared/runtime/exit.js';
import { ServiceName, startMetrics } from '#shared/runtime/metrics.js';
import { processInstanceId } from '#shared/runtime/telemetry.js';
import { bootService, logReady, stopOnSignals } from '#shared/runtime/service.main.js';
import { LeaderLease } from './alert.leader.js';
import { AlertService } from './alert.service.js';

const instance = processInstanceId();
const boot = await bootService(ServiceName.alert, () => instance);
const { config, log, bus, version } = boot;
const metrics = await startMetrics({
  service: ServiceName.alert,
  instance,
  version,
  config: config.telemetry,
  log,
  bus,
});
const lease = await LeaderLease.open(bus.nc, {
  instance,
  leaseMs: config.alert.leaseMs,
  replicas: config.nats.replicas,
  log,
});
const stepDown = (why: string) => {
  log.error(`${why}: exiting, to be started again as a standby`);
  process.exit(ExitCode.startAgain);
};
const service = new AlertService({
  bus,
  config: config.alert,
  log,
  metrics: metrics.metrics,
  replicas: config.nats.replicas,
  requestTimeoutMs: config.nats.requestTimeoutMs,
  leading: () => lease.leading,
  onDeposed: () => stepDown('another alert service wrote the state'),
});
let active = false;
stopOnSignals(boot, metrics, async () => {
  if (active) await service.stop();
  // The lease goes last: a standby takes over only once our state is saved.
  await lease.release();
});

const holder = await lease.holder();
if (holder !== undefined && holder !== instance)
  log.info('alert service standing by', { active: holder, leaseMs: config.alert.leaseMs });
if (await lease.acquire(() => stepDown('alert leadership lost'))) {
  active = true;
  await service.start();
  await logReady(boot, 'alert service', metrics, { nats: config.nats.servers });
}
