// The one way to write to stderr when no logger can: in the preload, before a service's logger
// exists, or after it closed. Each line has the shape of the services' pino records (numeric level,
// time, pid, msg), so whatever collects the container's output parses all of it alike.

const LEVELS = { warn: 40, error: 50, fatal: 60 } as const;

export type FallbackLevel = keyof typeof LEVELS;

/** One JSON line on stderr; `fields` come between the pid and the message. */
export function writeFallback(
  level: FallbackLevel,
  msg: string,
  fields: Record<string, unknown> = {},
): void {
  const record = { level: LEVELS[level], time: Date.now(), pid: process.pid, ...fields, msg };
  process.stderr.write(`${JSON.stringify(record)}\n`);
}
