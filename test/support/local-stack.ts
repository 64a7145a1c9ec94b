// The four backend programs of the local stack as child processes on loopback: the OpenTelemetry
// Collector (collector/config.yaml), Prometheus, Loki and Tempo (backends/*.yaml), with their data in
// a temporary directory. Used by the e2e tests and by scripts/stack-local.ts (npm run stack:local).
// Binaries come from $HOME/.cache/node-observability-stack/bin (scripts/install-tools.sh), then PATH.
//
//   const stack = await startLocalStack();          // free ports, temp data dir
//   ... OTEL_EXPORTER_OTLP_ENDPOINT = stack.urls.otlpGrpc ...
//   await stack.stopProcess('otelcol'); await stack.startProcess('otelcol');   // fault injection
//   await stack.stop();                             // SIGTERM (SIGKILL after 10s), data dir removed
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  deathError,
  freePorts,
  startProcess,
  waitUntilReady,
  type ManagedProcess,
  type ProcessSpec,
} from '../../scripts/lib/processes.ts';
import { findTool, toolBinDir } from './tools.ts';

export const repoRoot = resolve(import.meta.dirname, '..', '..');

/** The programs of the local stack, in start order (the collector last, it is stopped first). */
export const stackProcessNames = ['prometheus', 'loki', 'tempo', 'otelcol'] as const;
export type StackProcessName = (typeof stackProcessNames)[number];

export interface StackPorts {
  otlpGrpc: number;
  otlpHttp: number;
  collectorHealth: number;
  collectorMetrics: number;
  prometheus: number;
  loki: number;
  lokiGrpc: number;
  tempo: number;
  tempoGrpc: number;
  tempoOtlpGrpc: number;
  tempoOtlpHttp: number;
  tempoMemberlist: number;
}

/** The documented ports (README, contract): what npm run stack:local uses. */
export const fixedPorts: StackPorts = {
  otlpGrpc: 4317,
  otlpHttp: 4318,
  collectorHealth: 13133,
  collectorMetrics: 8888,
  prometheus: 9090,
  loki: 3100,
  lokiGrpc: 9096,
  tempo: 3200,
  tempoGrpc: 9095,
  tempoOtlpGrpc: 4417,
  tempoOtlpHttp: 4418,
  tempoMemberlist: 7946,
};

export interface StackUrls {
  /** For OTEL_EXPORTER_OTLP_ENDPOINT (OTLP gRPC). */
  otlpGrpc: string;
  /** OTLP HTTP base URL (append /v1/traces, /v1/metrics, /v1/logs). */
  otlpHttp: string;
  collectorHealth: string;
  collectorMetrics: string;
  prometheus: string;
  loki: string;
  tempo: string;
}

export interface LocalStackOptions {
  /** 'free' (default): ports chosen by the OS, so stacks and other tests never clash. 'fixed': fixedPorts. */
  ports?: 'free' | 'fixed';
  /** Data (and logs/) directory; default: a new directory under the OS temp dir. */
  dataDir?: string;
  /** Keep the data directory on stop() (default: only when NOS_KEEP_STACK_DATA=1). */
  keepData?: boolean;
  /** Per process readiness timeout (default 90s: a cold Loki or Tempo start on a busy CI machine). */
  readyTimeoutMs?: number;
}

export interface LocalStack {
  readonly dataDir: string;
  /** One log file per program: <logDir>/<name>.log. */
  readonly logDir: string;
  readonly ports: StackPorts;
  readonly urls: StackUrls;
  readonly processes: ReadonlyMap<StackProcessName, ManagedProcess>;
  /** Starts one program again (same ports and data) and waits until it is ready. */
  startProcess(name: StackProcessName): Promise<void>;
  /** Stops one program (SIGTERM, SIGKILL after graceMs); it counts as stopped on purpose. */
  stopProcess(name: StackProcessName, graceMs?: number): Promise<void>;
  /** Throws, with its last output, when a program that should be running has exited. */
  assertRunning(): void;
  /**
   * Peak resident memory (VmHWM, KiB) of each program so far (the highest of its runs when it was
   * restarted); Linux only, else empty.
   */
  peakRssKiB(): Partial<Record<StackProcessName, number>>;
  /** Stops everything (collector first) and removes the data directory unless kept. */
  stop(): Promise<void>;
}

const binaryOf: Record<StackProcessName, string> = {
  otelcol: 'otelcol',
  prometheus: 'prometheus',
  loki: 'loki',
  tempo: 'tempo',
};

/** The stack's binaries that are not installed (scripts/install-tools.sh builds them). */
export function missingStackBinaries(): string[] {
  return stackProcessNames.map((name) => binaryOf[name]).filter((bin) => !findTool(bin));
}

function binary(name: StackProcessName): string {
  const path = findTool(binaryOf[name]);
  if (!path) {
    throw new Error(
      `'${binaryOf[name]}' not found in ${toolBinDir} or PATH: run 'bash scripts/install-tools.sh'`,
    );
  }
  return path;
}

async function allocatePorts(mode: 'free' | 'fixed'): Promise<StackPorts> {
  if (mode === 'fixed') return { ...fixedPorts };
  const keys = Object.keys(fixedPorts) as (keyof StackPorts)[];
  const ports = await freePorts(keys.length);
  return Object.fromEntries(keys.map((key, i) => [key, ports[i]])) as unknown as StackPorts;
}

function specs(
  ports: StackPorts,
  dataDir: string,
  logDir: string,
): Record<StackProcessName, ProcessSpec> {
  const host = '127.0.0.1';
  const url = (port: number): string => `http://${host}:${port}`;
  const logFile = (name: string): string => join(logDir, `${name}.log`);
  return {
    prometheus: {
      name: 'prometheus',
      command: binary('prometheus'),
      args: [
        `--config.file=${join(repoRoot, 'backends', 'prometheus.yaml')}`,
        `--storage.tsdb.path=${join(dataDir, 'prometheus')}`,
        `--web.listen-address=${host}:${ports.prometheus}`,
        // OTLP ingestion at /api/v1/otlp/v1/metrics, and storage for the exemplars it carries.
        '--web.enable-otlp-receiver',
        '--enable-feature=exemplar-storage',
      ],
      readyUrl: `${url(ports.prometheus)}/-/ready`,
      logFile: logFile('prometheus'),
    },
    loki: {
      name: 'loki',
      command: binary('loki'),
      args: [`-config.file=${join(repoRoot, 'backends', 'loki.yaml')}`, '-config.expand-env=true'],
      env: {
        LOKI_DATA_DIR: join(dataDir, 'loki'),
        LOKI_LISTEN_ADDRESS: host,
        LOKI_HTTP_PORT: String(ports.loki),
        LOKI_GRPC_PORT: String(ports.lokiGrpc),
      },
      readyUrl: `${url(ports.loki)}/ready`,
      logFile: logFile('loki'),
    },
    tempo: {
      name: 'tempo',
      command: binary('tempo'),
      args: [`-config.file=${join(repoRoot, 'backends', 'tempo.yaml')}`, '-config.expand-env=true'],
      env: {
        TEMPO_DATA_DIR: join(dataDir, 'tempo'),
        TEMPO_LISTEN_ADDRESS: host,
        TEMPO_HTTP_PORT: String(ports.tempo),
        TEMPO_GRPC_PORT: String(ports.tempoGrpc),
        TEMPO_OTLP_GRPC_LISTEN: `${host}:${ports.tempoOtlpGrpc}`,
        TEMPO_OTLP_HTTP_LISTEN: `${host}:${ports.tempoOtlpHttp}`,
        TEMPO_MEMBERLIST_PORT: String(ports.tempoMemberlist),
      },
      readyUrl: `${url(ports.tempo)}/ready`,
      logFile: logFile('tempo'),
      // Tempo's query frontend can hang on SIGTERM after it served queries (grafana/tempo#5733):
      // do not wait long for it. Its WAL is on disk, a SIGKILL loses nothing already acknowledged.
      stopGraceMs: 3_000,
    },
    otelcol: {
      name: 'otelcol',
      command: binary('otelcol'),
      args: [`--config=${join(repoRoot, 'collector', 'config.yaml')}`],
      env: {
        OTELCOL_OTLP_GRPC_ENDPOINT: `${host}:${ports.otlpGrpc}`,
        OTELCOL_OTLP_HTTP_ENDPOINT: `${host}:${ports.otlpHttp}`,
        OTELCOL_HEALTH_ENDPOINT: `${host}:${ports.collectorHealth}`,
        OTELCOL_METRICS_HOST: host,
        OTELCOL_METRICS_PORT: String(ports.collectorMetrics),
        TEMPO_OTLP_GRPC_ENDPOINT: `${host}:${ports.tempoOtlpGrpc}`,
        LOKI_URL: url(ports.loki),
        PROMETHEUS_URL: url(ports.prometheus),
      },
      readyUrl: `${url(ports.collectorHealth)}/`,
      logFile: logFile('otelcol'),
    },
  };
}

function peakRss(pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match?.[1] ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts Prometheus, Loki, Tempo and the collector, and waits until all four are ready. On failure
 * everything started is stopped again and the error carries the failing program's last output.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const missing = missingStackBinaries();
  if (missing.length > 0) {
    throw new Error(
      `missing ${missing.join(', ')} in ${toolBinDir} or PATH: run 'bash scripts/install-tools.sh'`,
    );
  }
  const keepData = options.keepData ?? process.env.NOS_KEEP_STACK_DATA === '1';
  const readyTimeoutMs = options.readyTimeoutMs ?? 90_000;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'nos-stack-')));
  const logDir = join(dataDir, 'logs');
  await mkdir(logDir, { recursive: true });
  const ports = await allocatePorts(options.ports ?? 'free');
  const spec = specs(ports, dataDir, logDir);
  const url = (port: number): string => `http://127.0.0.1:${port}`;
  const urls: StackUrls = {
    otlpGrpc: url(ports.otlpGrpc),
    otlpHttp: url(ports.otlpHttp),
    collectorHealth: url(ports.collectorHealth),
    collectorMetrics: `${url(ports.collectorMetrics)}/metrics`,
    prometheus: url(ports.prometheus),
    loki: url(ports.loki),
    tempo: url(ports.tempo),
  };

  const processes = new Map<StackProcessName, ManagedProcess>();
  const stoppedOnPurpose = new Set<StackProcessName>();
  const peaks: Partial<Record<StackProcessName, number>> = {};
  const recordPeak = (name: StackProcessName): void => {
    const proc = processes.get(name);
    const kib = proc && proc.exitStatus() === undefined ? peakRss(proc.pid) : undefined;
    if (kib !== undefined) peaks[name] = Math.max(peaks[name] ?? 0, kib);
  };

  const startOne = async (name: StackProcessName): Promise<void> => {
    const proc = await startProcess(spec[name]);
    processes.set(name, proc);
    stoppedOnPurpose.delete(name);
    await waitUntilReady(proc, readyTimeoutMs);
  };

  const stopOne = async (name: StackProcessName, graceMs?: number): Promise<void> => {
    stoppedOnPurpose.add(name);
    recordPeak(name);
    await processes.get(name)?.stop(graceMs);
  };

  const stopAll = async (): Promise<void> => {
    // The collector first: it flushes its batches to the backends while they are still up.
    await stopOne('otelcol');
    await Promise.all(stackProcessNames.filter((n) => n !== 'otelcol').map((n) => stopOne(n)));
    if (!keepData) await rm(dataDir, { recursive: true, force: true });
  };

  // All four start at once (the collector's exporters retry until the backends listen).
  const results = await Promise.allSettled(stackProcessNames.map((name) => startOne(name)));
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
  if (failures.length > 0) {
    await stopAll().catch(() => undefined);
    throw new Error(
      `local stack did not start (logs: ${keepData ? logDir : 'removed; set NOS_KEEP_STACK_DATA=1'}):\n` +
        failures.join('\n\n'),
    );
  }

  return {
    dataDir,
    logDir,
    ports,
    urls,
    processes,
    startProcess: startOne,
    stopProcess: stopOne,
    assertRunning(): void {
      for (const [name, proc] of processes) {
        if (!stoppedOnPurpose.has(name) && proc.exitStatus() !== undefined) {
          throw deathError(proc, 'while the stack was running');
        }
      }
    },
    peakRssKiB() {
      for (const name of processes.keys()) recordPeak(name);
      return { ...peaks };
    },
    stop: stopAll,
  };
}
