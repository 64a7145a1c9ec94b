// Starts a service the way production does: `npm start --workspace services/<name>` (which runs
// `node --import @nos/telemetry/register dist/server.js`, the Dockerfile's CMD) against the BUILT
// output, so the tests prove the real start command is instrumented. `npm test` builds first.
//
// Signals go to the node process itself (its pid is in the "ready" log record), as a container
// runtime signals PID 1. (`npm start` passes SIGTERM and SIGINT on too, the start scripts `exec`
// node, as the start-command tests check.) npm exits with the node process's exit code.
// npm leads its own process group (scripts/lib/processes.ts), so a kill takes npm, its shell and
// the node process at once, and so does the exit of the test process.

import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePorts, killGroup, spawnInGroup } from '../../scripts/lib/processes.ts';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export type ServiceName = 'api-gateway' | 'user-service';

/** A port nothing listens on at the time of the call. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port ?? 0;
}

/** The pids of `pid` and all its descendants (Linux /proc), children first: to find npm's node. */
function processTree(pid: number): number[] {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    // gone, or no /proc
  }
  return [...children.flatMap(processTree), pid];
}

/** SIGKILL for the process group `pid` leads (npm, its shell and node), or `pid` alone. */
export function killTree(pid: number | undefined): void {
  killGroup(pid, 'SIGKILL');
}

export type LogRecordJson = Record<string, unknown> & { level: number; msg: string };

/** Fast export settings so the suite does not wait for production intervals. */
export const FAST_TELEMETRY_ENV: Readonly<Record<string, string>> = {
  OTEL_METRIC_EXPORT_INTERVAL: '500',
  OTEL_BSP_SCHEDULE_DELAY: '100',
  OTEL_BLRP_SCHEDULE_DELAY: '100',
  // The exporters' own retry/backoff must not outlive a test when the receiver is down.
  OTEL_EXPORTER_OTLP_TIMEOUT: '2000',
};

export class ServiceProcess {
  readonly name: ServiceName;
  readonly port: number;
  readonly npm: ChildProcess;
  /** Every stdout line parsed as JSON (pino records); non-JSON lines are kept in `otherOutput`. */
  readonly records: LogRecordJson[] = [];
  readonly otherOutput: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  pid = 0;
  startedAt = 0;

  constructor(name: ServiceName, port: number, npm: ChildProcess) {
    this.name = name;
    this.port = port;
    this.npm = npm;
    this.exited = once(npm, 'exit').then(([code]) => code as number | null);
    if (!npm.stdout || !npm.stderr)
      throw new Error('spawn the service with piped stdout and stderr');
    createInterface({ input: npm.stdout }).on('line', (line) => {
      try {
        const record = JSON.parse(line) as LogRecordJson;
        if (typeof record === 'object' && record !== null && 'level' in record) {
          this.records.push(record);
          return;
        }
      } catch {
        // npm's banner ("> @nos/x start") and anything else that is not a log record.
      }
      this.otherOutput.push(line);
    });
    createInterface({ input: npm.stderr }).on('line', (line) => this.stderr.push(line));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async waitForRecord(
    predicate: (record: LogRecordJson) => boolean,
    timeoutMs = 15_000,
  ): Promise<LogRecordJson> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.records.find(predicate);
      if (found) return found;
      if (Date.now() > deadline || this.npm.exitCode !== null) {
        throw new Error(
          `${this.name}: no matching log record (exit code ${this.npm.exitCode}). stdout: ` +
            `${JSON.stringify(this.records.slice(-5))} ${this.otherOutput.join(' | ')} stderr: ${this.stderr.join(' | ')}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** Waits for GET /readyz to answer 200, then learns the node process's pid (npm -> node). */
  async waitForReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.npm.exitCode !== null || Date.now() > deadline) {
        throw new Error(
          `${this.name} did not become ready (exit code ${this.npm.exitCode}). stdout: ` +
            `${JSON.stringify(this.records.slice(-5))} ${this.otherOutput.join(' | ')} stderr: ${this.stderr.join(' | ')}`,
        );
      }
      try {
        const response = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(1000) });
        await response.arrayBuffer();
        if (response.ok) break;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const [node] = processTree(this.npm.pid ?? 0);
    if (!node || node === this.npm.pid) throw new Error(`${this.name}: node process not found`);
    this.pid = node;
  }

  /** Sends a signal to the node process (like a container runtime to PID 1). */
  signal(signal: NodeJS.Signals): void {
    // pid 0 would signal the whole process group, test runner included.
    if (this.pid <= 0) throw new Error(`${this.name}: pid unknown (not ready yet)`);
    process.kill(this.pid, signal);
  }

  /** SIGTERM, then SIGKILL if it does not exit in time. Resolves with the exit code. */
  async stop(timeoutMs = 15_000): Promise<number | null> {
    if (this.npm.exitCode !== null) return this.npm.exitCode;
    if (this.pid <= 0) {
      killTree(this.npm.pid);
      return this.exited;
    }
    try {
      this.signal('SIGTERM');
    } catch {
      // already gone
    }
    const timer = setTimeout(() => killTree(this.npm.pid), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

/**
 * Starts `services/<name>` with `npm start` and waits for its "ready" record. `env` is added to a
 * copy of this process's environment without any OTEL_* variable of the developer's shell.
 */
export async function startService(
  name: ServiceName,
  env: Record<string, string>,
  options: {
    port?: number;
    waitForReady?: boolean;
    fastTelemetry?: boolean;
  } = {},
): Promise<ServiceProcess> {
  const port = options.port ?? (await freePort());
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !key.startsWith('OTEL_') && !key.startsWith('npm_'),
    ),
  );
  const npm = spawnInGroup('npm', ['start', '--silent', '--workspace', `services/${name}`], {
    cwd: repoRoot,
    env: {
      ...base,
      ...(options.fastTelemetry === false ? {} : FAST_TELEMETRY_ENV),
      PORT: String(port),
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const service = new ServiceProcess(name, port, npm);
  service.startedAt = Date.now();
  if (options.waitForReady !== false) {
    try {
      await service.waitForReady(30_000);
    } catch (error) {
      // Do not leave a half-started service behind (its pipes would keep the test runner alive).
      killTree(npm.pid);
      throw error;
    }
  }
  return service;
}
