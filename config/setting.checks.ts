/** Checks more than one group uses. */
import type { Check } from './setting.define.js';

/** Ids that end up in NATS subjects (gateway ids, room ids): see shared/wire/subjects.ts. */
export const SUBJECT_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** `env`, when set, must be an http(s) URL: it is where spans or alerts are sent. */
export function httpUrlCheck<C>(env: string, get: (config: C) => string | undefined): Check<C> {
  const broken = (value: string | undefined) =>
    value !== undefined && !/^https?:\/\/[^\s/]+/i.test(value);
  return {
    rule: `${env} is an http(s) URL`,
    names: [env],
    broken: (config) => broken(get(config)),
    message: (config) => `${env}=${JSON.stringify(get(config))}: expected an http(s) URL`,
  };
}
