/**
 * Reading declared settings out of an environment: `X` or the file `X_FILE` names,
 * parsed and bounded by the setting's declaration.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, type AnySetting, type SettingGroup, type Values } from './setting.define.js';

/** `name` from `env`, or the contents of the file that `name_FILE` names (one trailing newline dropped). */
function rawValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const direct = env[name];
  const file = env[`${name}_FILE`];
  if (file === undefined || file === '') return direct;
  if (direct !== undefined && direct !== '')
    throw new ConfigError(`${name} and ${name}_FILE are both set: set one`);
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(`${name}_FILE=${JSON.stringify(file)}: cannot read it (${code})`);
  }
}

/** "a", "a or b", "a, b or c". */
function orList(words: readonly string[]): string {
  return words.length <= 1
    ? words.join('')
    : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1] ?? ''}`;
}

function read(setting: AnySetting, raw: string | undefined): unknown {
  if (raw === undefined || raw === '') return setting.default;
  const shown = setting.secret === true ? '(hidden)' : JSON.stringify(raw);
  switch (setting.kind) {
    case 'string':
      return raw;
    case 'enum':
      if (!setting.values.includes(raw))
        throw new ConfigError(`${setting.env}=${shown}: expected ${orList(setting.values)}`);
      return raw;
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
    case 'bool':
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      throw new ConfigError(`${setting.env}=${shown}: expected true or false`);
    case 'int': {
      if (!/^-?\d+$/.test(raw.replaceAll('_', '')))
        throw new ConfigError(`${setting.env}=${shown}: expected an integer`);
      const n = Number(raw.replaceAll('_', ''));
      if (n < setting.min || n > setting.max) {
        throw new ConfigError(
          `${setting.env}=${shown}: must be between ${setting.min} and ${setting.max}`,
        );
      }
      return n;
    }
  }
}

/** Every setting of `group` read from `env`, in declaration order (the first bad one throws). */
export function readGroup<G extends SettingGroup>(group: G, env: NodeJS.ProcessEnv): Values<G> {
  const section: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(group)) {
    section[key] = read(setting, rawValue(env, setting.env));
  }
  // Each key was read by its own declaration, so it holds that declaration's ValueOf.
  return section as Values<G>;
}

/** A README row: variable, default as written in the environment, meaning. */
export function describeSetting(setting: AnySetting): {
  env: string;
  default: string;
  doc: string;
} {
  const def = setting.default;
  return {
    env: setting.env,
    default: def === undefined ? '(none)' : Array.isArray(def) ? def.join(',') : String(def),
    doc: setting.doc,
  };
}
