// One variant's pair of services, started as that variant runs them, and what is measured of the
// processes themselves (CPU, RSS).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePorts } from '../lib/processes.ts';
import { launch, waitReady, type Launched } from './launch.ts';
import { cpuSeconds, rssMiB } from './measure.ts';
import { probeArgs, type BenchOptions } from './options.ts';
import type { Variant } from './summary.ts';

export interface Pair {
  gateway: Launched;
  user: Launched;
  gatewayUrl: string;
  readyMs: { gateway: number; user: number };
}

export type PairOptions = Pick<BenchOptions, 'aEnv' | 'probeDir' | 'profileDir'> & {
  repoRoot: string;
  sinkOtlpPort: number;
};

export async function startPair(variant: Variant, options: PairOptions): Promise<Pair> {
  const { repoRoot, sinkOtlpPort, aEnv, probeDir, profileDir } = options;
  const probe = probeArgs(repoRoot, probeDir);
  const [userPort, gatewayPort] = await freePorts(2);
  const common: Record<string, string> = { LOG_LEVEL: 'info', DB_LATENCY_MS: '5' };
  if (variant === 'A') {
    common.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${sinkOtlpPort}`;
    Object.assign(common, aEnv);
  }
  if (variant === 'B') common.OTEL_SDK_DISABLED = 'true';
  if (variant === 'Z' || variant === 'Z_esm') {
    common.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${sinkOtlpPort}`;
  }
  common.TELEMETRY_MODE = variant === 'Z' ? 'stock' : variant === 'Z_esm' ? 'stock-esm' : 'tuned';
  if (probeDir) {
    common.BENCH_PROBE_DIR = join(probeDir, variant);
    mkdirSync(common.BENCH_PROBE_DIR, { recursive: true });
  }
  // C is its own script; the others start as the services do (package.json "start", the
  // Dockerfiles' CMD): the start command with the built server.
  const command = (name: string) =>
    variant === 'C'
      ? {
          file: process.execPath,
          args: [...probe, join(repoRoot, 'scripts', 'bench', 'plain-pair.ts'), name],
        }
      : {
          file: join(repoRoot, 'services', 'telemetry', 'bin', 'start.sh'),
          args: [
            ...(variant === 'A' && profileDir
              ? ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, name)}`]
              : []),
            ...probe,
            'dist/server.js',
          ],
        };
  const started = async (
    name: 'user-service' | 'api-gateway',
    port: number,
    env: Record<string, string>,
  ) => {
    const t0 = performance.now();
    const { file, args } = command(name);
    const proc = launch(`${variant}-${name}`, file, args, join(repoRoot, 'services', name), {
      ...common,
      ...env,
      PORT: String(port),
    });
    await waitReady(proc, `http://127.0.0.1:${port}/readyz`, `${variant} ${name}`);
    return { proc, ms: performance.now() - t0 };
  };
  const user = await started('user-service', userPort as number, {});
  const gateway = await started('api-gateway', gatewayPort as number, {
    USER_SERVICE_URL: `http://127.0.0.1:${userPort}`,
  });
  return {
    user: user.proc,
    gateway: gateway.proc,
    gatewayUrl: `http://127.0.0.1:${gatewayPort}`,
    readyMs: { user: user.ms, gateway: gateway.ms },
  };
}

export async function stopPair(pair: Pair): Promise<void> {
  for (const proc of [pair.gateway, pair.user]) proc.child.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const proc of [pair.gateway, pair.user]) proc.child.kill('SIGKILL');
  }, 15_000);
  await Promise.all([pair.gateway.exited, pair.user.exited]);
  clearTimeout(timer);
}

const pids = (pair: Pair) => [pair.gateway.child.pid ?? 0, pair.user.child.pid ?? 0];
export const pairCpu = (pair: Pair) => pids(pair).reduce((sum, pid) => sum + cpuSeconds(pid), 0);
export const pairRss = (pair: Pair) => ({
  gateway: rssMiB(pair.gateway.child.pid ?? 0),
  user: rssMiB(pair.user.child.pid ?? 0),
});
