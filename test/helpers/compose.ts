/**
 * compose.yaml as `docker compose` reads it, for tests that run what it describes
 * without Docker: YAML anchors and merge keys resolved, `${VAR}`, `${VAR:-default}`,
 * `${VAR-default}` and `$$` substituted from a `.env` map, secrets written as files,
 * and the compose network's host names mapped to loopback addresses.
 *
 * Nothing here adds or changes a setting: a service's environment is what compose
 * gives it, with only /run/secrets/<name> paths and `//host:port` addresses
 * rewritten. What a test changes beyond that it states itself.
 *
 * The YAML parser is `yaml`, in node_modules through tap (see test/compose.test.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

export type SecretRef = string | { source: string; target?: string };

export interface ComposeService {
  image?: string;
  entrypoint?: string[];
  command?: string[];
  environment?: Record<string, string>;
  secrets?: SecretRef[];
  volumes?: string[];
  ports?: string[];
  expose?: string[];
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  secrets?: Record<string, { environment?: string; file?: string }>;
}

/** Compose's variable substitution in one string (compose applies it to values, not comments). */
export function interpolate(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(
    /\$(?:(\$)|\{([A-Za-z_]\w*)(?:(:?-)([^}]*))?\})/g,
    (_m, dollar: string | undefined, name: string, op: string | undefined, def: string) => {
      if (dollar !== undefined) return '$';
      const value = vars[name];
      if (op === ':-') return value === undefined || value === '' ? def : value;
      if (op === '-') return value ?? def;
      // Compose warns and substitutes nothing; a test wants to know.
      if (value === undefined) throw new Error(`compose.yaml: \${${name}} is not set`);
      return value;
    },
  );
}

function interpolateAll(value: unknown, vars: Readonly<Record<string, string>>): unknown {
  if (typeof value === 'string') return interpolate(value, vars);
  if (Array.isArray(value)) return value.map((v) => interpolateAll(v, vars));
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, interpolateAll(v, vars)] as const),
    );
  return value;
}

/** Reads `path` as compose does, with `vars` as the environment of `docker compose`. */
export function loadCompose(path: string, vars: Readonly<Record<string, string>>): ComposeFile {
  // Compose resolves YAML merge keys (`<<: *anchor`): so must we.
  const raw = parse(readFileSync(path, 'utf8'), { merge: true }) as unknown;
  return interpolateAll(raw, vars) as ComposeFile;
}

/** Where a secret lands in a container: /run/secrets/<target or name>. */
export function secretTarget(ref: SecretRef): { source: string; path: string } {
  if (typeof ref === 'string') return { source: ref, path: `/run/secrets/${ref}` };
  const target = ref.target ?? ref.source;
  return { source: ref.source, path: target.startsWith('/') ? target : `/run/secrets/${target}` };
}

/**
 * Writes every top-level secret into `outDir` (as compose would mount it): from
 * `vars` (`environment:`) or from the file below `projectDir` (`file:`).
 * Returns each secret's file by name.
 */
export function writeSecrets(
  compose: ComposeFile,
  vars: Readonly<Record<string, string>>,
  projectDir: string,
  outDir: string,
): Map<string, string> {
  const files = new Map<string, string>();
  for (const [name, spec] of Object.entries(compose.secrets ?? {})) {
    let content: string;
    if (spec.environment !== undefined) {
      const value = vars[spec.environment];
      if (value === undefined) throw new Error(`secret ${name}: ${spec.environment} is not set`);
      content = value;
    } else if (spec.file !== undefined) {
      content = readFileSync(resolve(projectDir, spec.file), 'utf8');
    } else {
      throw new Error(`secret ${name}: neither environment nor file`);
    }
    const file = join(outDir, name);
    writeFileSync(file, content, { mode: 0o600 });
    files.set(name, file);
  }
  return files;
}

export interface EnvOptions {
  /** Each secret's file, from `writeSecrets`. */
  secretFiles: ReadonlyMap<string, string>;
  /** `host:port` on the compose network → `host:port` on loopback (e.g. `nats:4222` → `127.0.0.1:4321`). */
  hosts: Readonly<Record<string, string>>;
}

/**
 * The environment compose gives `name`, with the paths of the secrets it mounts
 * rewritten to their files and every `//<service>:<port>` to its loopback address.
 * A secret the service does not mount, or a compose host with no mapping, throws:
 * in a container it would not be there either.
 */
export function serviceEnv(
  compose: ComposeFile,
  name: string,
  o: EnvOptions,
): Record<string, string> {
  const service = compose.services[name];
  if (service === undefined) throw new Error(`compose.yaml has no service ${name}`);
  const mounted = new Map<string, string>();
  for (const ref of service.secrets ?? []) {
    const { source, path } = secretTarget(ref);
    const file = o.secretFiles.get(source);
    if (file === undefined) throw new Error(`${name}: secret ${source} was not written`);
    mounted.set(path, file);
  }
  const env: Record<string, string> = {};
  // Compose takes unquoted numbers and booleans too: the process sees their text.
  const entries = Object.entries(service.environment ?? {}) as [string, unknown][];
  for (const [key, raw] of entries) {
    let value = String(raw);
    if (value.startsWith('/run/secrets/')) {
      const file = mounted.get(value);
      if (file === undefined)
        throw new Error(`${name}: ${key}=${value}, a secret it does not mount`);
      value = file;
    }
    value = mapHosts(compose, value, o.hosts, `${name}: ${key}`);
    env[key] = value;
  }
  return env;
}

/** `value` with every `//<compose service>:<port>` replaced by its loopback address from `hosts`. */
export function mapHosts(
  compose: ComposeFile,
  value: string,
  hosts: Readonly<Record<string, string>>,
  where = value,
): string {
  return value.replace(/\/\/([a-z][\w-]*):(\d+)/g, (whole, host: string, port: string) => {
    if (!(host in compose.services)) return whole;
    const mapped = hosts[`${host}:${port}`];
    if (mapped === undefined) throw new Error(`${where} names ${host}:${port}, not mapped`);
    return `//${mapped}`;
  });
}
