// The sink collector every exporting variant sends to: it accepts and counts, and exports nothing.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePorts } from '../lib/processes.ts';
import { children } from './launch.ts';
import { sinkCounts, type SinkCounts } from './measure.ts';

export interface Sink {
  otlpPort: number;
  /** Waits until the counts stop changing for `quietMs` (bounded by `maxMs`), and returns them. */
  settledCounts(quietMs: number, maxMs: number): Promise<SinkCounts>;
  stop(): void;
}

/** Starts the sink collector; exits the process with a hint when it does not start. */
export async function startSink(repoRoot: string, toolBin: string): Promise<Sink> {
  const [otlpPort = 0, metricsPort] = await freePorts(2);
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  const sink = spawn(
    join(toolBin, 'otelcol'),
    ['--config', join(repoRoot, 'scripts', 'bench', 'sink-collector.yaml')],
    {
      env: {
        ...process.env,
        SINK_OTLP_PORT: String(otlpPort),
        SINK_METRICS_PORT: String(metricsPort),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  children.add(sink);
  for (let i = 0; ; i++) {
    try {
      await sinkCounts(metricsUrl);
      break;
    } catch (error) {
      if (i > 300 || sink.exitCode !== null) {
        console.error(
          `bench: sink collector (${join(toolBin, 'otelcol')}) did not start: ${String(error)}`,
        );
        console.error('build it with: bash scripts/install-tools.sh');
        process.exit(1);
      }
      await sleep(100);
    }
  }
  const settledCounts = async (quietMs: number, maxMs: number) => {
    const deadline = performance.now() + maxMs;
    let last = await sinkCounts(metricsUrl);
    let since = performance.now();
    while (performance.now() < deadline) {
      await sleep(250);
      const now = await sinkCounts(metricsUrl);
      if (now.spans !== last.spans || now.logRecords !== last.logRecords) {
        last = now;
        since = performance.now();
      } else if (performance.now() - since >= quietMs) {
        break;
      }
    }
    return last;
  };
  return { otlpPort, settledCounts, stop: () => sink.kill('SIGTERM') };
}
