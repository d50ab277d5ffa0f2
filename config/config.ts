/**
 * The one place for configuration. Every setting is an environment variable with
 * a documented unit and default; `loadConfig` reads and checks them all at once so
 * that a bad value stops a service at start, not in the middle of traffic.
 *
 * Any setting `X` may instead be given as `X_FILE`, the path of a file that holds
 * the value (Docker and Kubernetes secrets), so secrets need not sit in the
 * environment.
 *
 * Each group is declared, with the checks that relate its settings, in its own
 * `<group>.settings.ts`; this module puts them together. `scripts/config-doc.ts`
 * renders the declarations into the README (a test keeps the two in step).
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { ConfigError, type Check, type SettingGroup, type Values } from './setting.define.js';
import { describeSetting, readGroup } from './setting.read.js';
import { natsSettings } from './nats.settings.js';
import { authChecks, authSettings } from './auth.settings.js';
import { gatewayChecks, gatewaySettings } from './gateway.settings.js';
import { iceChecks, iceSettings } from './ice.settings.js';
import { roomChecks, roomSettings } from './room.settings.js';
import { streamChecks, streamSettings } from './stream.settings.js';
import { catalogChecks, catalogSettings } from './catalog.settings.js';
import { alertChecks, alertSettings } from './alert.settings.js';
import { telemetryChecks, telemetrySettings } from './telemetry.settings.js';
import { logSettings } from './log.settings.js';

export { ConfigError } from './setting.define.js';

/** Every setting, grouped by the part of the system that reads it (the README's order). */
export const settings = {
  nats: natsSettings,
  auth: authSettings,
  gateway: gatewaySettings,
  ice: iceSettings,
  room: roomSettings,
  stream: streamSettings,
  catalog: catalogSettings,
  alert: alertSettings,
  telemetry: telemetrySettings,
  log: logSettings,
} as const satisfies Record<string, SettingGroup>;

type Settings = typeof settings;
/** The typed configuration every service receives. */
export type Config = { -readonly [G in keyof Settings]: Values<Settings[G]> };

/** Every cross-check of every group; each throws a ConfigError naming the settings it relates. */
export const checks: readonly Check<Config>[] = [
  ...authChecks,
  ...gatewayChecks,
  ...iceChecks,
  ...roomChecks,
  ...streamChecks,
  ...catalogChecks,
  ...alertChecks,
  ...telemetryChecks,
];

/** A default process name: host, pid and a random suffix (unique across restarts). */
function instanceId(): string {
  const host = hostname()
    .replace(/[^A-Za-z0-9_-]/g, '_')
    .slice(0, 32);
  return `${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** Reads every setting from `env` (process.env by default) and checks it. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const config: Config = {
    nats: readGroup(settings.nats, env),
    auth: readGroup(settings.auth, env),
    gateway: readGroup(settings.gateway, env),
    ice: readGroup(settings.ice, env),
    room: readGroup(settings.room, env),
    stream: readGroup(settings.stream, env),
    catalog: readGroup(settings.catalog, env),
    alert: readGroup(settings.alert, env),
    telemetry: readGroup(settings.telemetry, env),
    log: readGroup(settings.log, env),
  };
  config.gateway.id ??= instanceId();
  config.room.replicaId ??= instanceId();
  for (const check of checks) {
    if (check.broken(config, env))
      throw new ConfigError(
        typeof check.message === 'string' ? check.message : check.message(config),
      );
  }
  return config;
}

/** Rows for the README's configuration table: variable, default, meaning. */
export function describeConfig(): { env: string; default: string; doc: string }[] {
  return Object.values(settings).flatMap((group: SettingGroup) =>
    Object.values(group).map(describeSetting),
  );
}
