/**
 * How a setting is declared: its environment variable, type, default, bounds and
 * doc line (the README table is rendered from these), and how a group declares the
 * checks that relate its settings to each other.
 */

interface Declared {
  env: string;
  /** One line for the README: what it does, with its unit. */
  doc: string;
  /** Never printed back (not in errors, not in `describeConfig` values). */
  secret?: boolean;
}
/** A free string; `undefined` as default means "no default": the value may be absent. */
export interface StringSetting<D extends string | undefined = string | undefined> extends Declared {
  kind: 'string';
  default: D;
}
export interface IntSetting extends Declared {
  kind: 'int';
  default: number;
  min: number;
  max: number;
}
export interface BoolSetting extends Declared {
  kind: 'bool';
  default: boolean;
}
/** Comma-separated; blanks around and between items are dropped. */
export interface ListSetting extends Declared {
  kind: 'list';
  default: string[];
}
/** One of a closed set of words; its value is typed as their union. */
export interface EnumSetting<V extends string = string> extends Declared {
  kind: 'enum';
  values: readonly V[];
  default: V;
}
export type AnySetting = StringSetting | IntSetting | BoolSetting | ListSetting | EnumSetting;
/** A group of settings, keyed by the name the code reads them by. */
export type SettingGroup = Readonly<Record<string, AnySetting>>;

/** The value a setting yields once read. */
export type ValueOf<S> = S extends IntSetting
  ? number
  : S extends BoolSetting
    ? boolean
    : S extends ListSetting
      ? string[]
      : S extends EnumSetting<infer V>
        ? V
        : S extends StringSetting<string>
          ? string
          : string | undefined;
/** The values of a group, as the services receive them. */
export type Values<G> = { -readonly [K in keyof G]: ValueOf<G[K]> };

export const str = <D extends string | undefined>(
  env: string,
  def: D,
  doc: string,
  extra: { secret?: boolean } = {},
): StringSetting<D> => ({ env, kind: 'string', default: def, doc, ...extra });

export const int = (
  env: string,
  def: number,
  doc: string,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): IntSetting => ({ env, kind: 'int', default: def, doc, min, max });

export const bool = (env: string, def: boolean, doc: string): BoolSetting => ({
  env,
  kind: 'bool',
  default: def,
  doc,
});

export const list = (env: string, def: string[], doc: string): ListSetting => ({
  env,
  kind: 'list',
  default: def,
  doc,
});

/** `oneOf('LOG_LEVEL', ['debug', 'info'], 'info', ...)` reads as `'debug' | 'info'`. */
export const oneOf = <const V extends string>(
  env: string,
  values: readonly V[],
  def: NoInfer<V>,
  doc: string,
): EnumSetting<V> => ({ env, kind: 'enum', values, default: def, doc });

/** A setting that cannot be read; names the variable, never echoes a secret. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * A rule between settings that their types and bounds cannot express. `loadConfig`
 * throws a ConfigError with `message`, which names every setting in `names`, when
 * `broken` holds. `C` is the part of the configuration it reads (its own group, and
 * any other it relates to).
 */
export interface Check<C> {
  /** What must hold, in a few words; tests key their cases by it. */
  rule: string;
  /** The variables the message names. */
  names: readonly string[];
  broken: (config: C, env: NodeJS.ProcessEnv) => boolean;
  /** Never echoes a secret value. */
  message: string | ((config: C) => string);
}
