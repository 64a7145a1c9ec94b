// Runs the local collector binary (otelcol) as a child process: started with the given --config
// arguments and environment, ready once its health_check extension answers 200, stopped with SIGTERM
// (a graceful shutdown: receivers save their state, queues keep what they hold) like a container.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { killTree } from './service-process.ts';

export class CollectorProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  /** The collector's own log (it writes to stderr); the last lines explain a failure. */
  readonly output: string[] = [];

  constructor(child: ChildProcess) {
    this.child = child;
    this.exited = once(child, 'exit').then(([code]) => code as number | null);
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', (line) => this.output.push(line));
    }
  }

  tail(lines = 30): string {
    return this.output.slice(-lines).join('\n');
  }

  /** SIGTERM, then SIGKILL if it has not exited after `timeoutMs`. Resolves with the exit code. */
  async stop(timeoutMs = 20_000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => killTree(this.child.pid), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

/**
 * Starts `otelcol` with `args` and `env` (added to this process's environment without its OTEL*
 * variables) and waits until `healthUrl` answers 200.
 */
export async function startCollector(
  otelcol: string,
  args: string[],
  env: Record<string, string>,
  healthUrl: string,
  timeoutMs = 30_000,
): Promise<CollectorProcess> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('OTEL')),
  );
  const collector = new CollectorProcess(
    spawn(otelcol, args, { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (collector.child.exitCode !== null || Date.now() > deadline) {
      killTree(collector.child.pid);
      throw new Error(
        `otelcol did not become healthy (exit code ${collector.child.exitCode}):\n${collector.tail()}`,
      );
    }
    try {
      const response = await fetch(healthUrl, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.ok) return collector;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
