// Configuration from environment variables: small pure readers that validate one variable each and a
// `readConfig` that runs them all and reports EVERY bad variable at once, by name, so a misconfigured
// container fails at start with one clear message instead of misbehaving later.

import { LOG_LEVELS, writeFallback, type Env, type LogLevel } from '@nos/telemetry';
import { baseUrl, parseHttpUrl } from '@nos/fetch-helpers';

export type { Env, LogLevel } from '@nos/telemetry';

/** Reads one variable. Throws `InvalidValue` (message without the variable name) when it is wrong. */
export type Reader<T> = (raw: string | undefined) => T;

export class InvalidValue extends Error {}

/** One or more variables are invalid; `problems` names each of them. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * Strict base-10 integer: digits only (optional '-'), no '+', spaces, leading zeros, exponent or
 * decimals, so "0123", "1e3" and "12abc" are rejected rather than silently reinterpreted.
 */
export function parseStrictInt(raw: string, min: number, max: number): number | undefined {
  if (!/^(0|-?[1-9]\d{0,15})$/.test(raw)) return undefined;
  const value = Number(raw);
  return Number.isSafeInteger(value) && value >= min && value <= max ? value : undefined;
}

function describe(raw: string): string {
  const shown = raw.length > 80 ? `${raw.slice(0, 80)}...` : raw;
  return JSON.stringify(shown);
}

export function int(options: { default: number; min: number; max: number }): Reader<number> {
  return (raw) => {
    if (raw === undefined || raw.trim() === '') return options.default;
    const value = parseStrictInt(raw.trim(), options.min, options.max);
    if (value === undefined) {
      throw new InvalidValue(
        `must be an integer between ${options.min} and ${options.max} (got ${describe(raw)})`,
      );
    }
    return value;
  };
}

export function port(defaultPort: number): Reader<number> {
  const read = int({ default: defaultPort, min: 1, max: 65535 });
  return (raw) => {
    try {
      return read(raw);
    } catch {
      throw new InvalidValue(`must be a TCP port between 1 and 65535 (got ${describe(raw ?? '')})`);
    }
  };
}

export function oneOf<const T extends string>(values: readonly T[], defaultValue: T): Reader<T> {
  return (raw) => {
    if (raw === undefined || raw.trim() === '') return defaultValue;
    const value = raw.trim().toLowerCase();
    if ((values as readonly string[]).includes(value)) return value as T;
    throw new InvalidValue(`must be one of ${values.join(', ')} (got ${describe(raw)})`);
  };
}

/** An absolute http(s) URL without credentials, query or fragment; returned without a trailing '/'. */
export function httpUrl(defaultUrl: string): Reader<string> {
  return (raw) => {
    const text = raw === undefined || raw.trim() === '' ? defaultUrl : raw.trim();
    const url = parseHttpUrl(text);
    if (url === 'not-absolute') {
      throw new InvalidValue(`must be an absolute http(s) URL (got ${describe(text)})`);
    }
    if (url === 'not-http') {
      throw new InvalidValue(`must use http or https (got ${describe(text)})`);
    }
    if (url.username || url.password || url.search || url.hash) {
      throw new InvalidValue(
        `must not contain credentials, a query or a fragment (got ${describe(text)})`,
      );
    }
    return baseUrl(url);
  };
}

export const logLevel: Reader<LogLevel> = oneOf(LOG_LEVELS, 'info');

type Spec = Record<string, Reader<unknown>>;
export type ConfigOf<S extends Spec> = { [K in keyof S]: ReturnType<S[K]> };

/**
 * Reads every variable of `spec` (keys are variable names) from `env`. Throws one `ConfigError`
 * listing all invalid variables.
 */
export function readConfig<S extends Spec>(env: Env, spec: S): ConfigOf<S> {
  const problems: string[] = [];
  const result: Record<string, unknown> = {};
  for (const [name, read] of Object.entries(spec)) {
    try {
      result[name] = read(env[name]);
    } catch (error) {
      if (!(error instanceof InvalidValue)) throw error;
      problems.push(`${name} ${error.message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return result as ConfigOf<S>;
}

/**
 * Runs `load` and, on a ConfigError, writes one clear line to stderr and exits with code 1 (the
 * process manager shows it; nothing else has started yet, the logger included).
 */
export function loadConfigOrExit<T>(service: string, load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    writeFallback('fatal', `${service}: ${error.message}`);
    process.exit(1);
  }
}
