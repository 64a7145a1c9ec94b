// npm run stack:local: the whole stack as local processes on loopback, no containers. Starts
// Prometheus, Loki, Tempo and the OpenTelemetry Collector (test/support/local-stack.ts, on the
// documented ports), builds and starts user-service and api-gateway, prints the URLs and curl
// commands to try, and stops everything on Ctrl-C (SIGINT/SIGTERM).
//
// Usage: node scripts/stack-local.ts [--no-build] [--backends-only] [--keep-data]
//   --no-build       skip `npm run build` (the services' dist/ is current)
//   --backends-only  start only the four backends (run the services yourself, e.g. from an IDE)
//   --keep-data      keep the data and log directory when stopping
// Binaries: bash scripts/install-tools.sh (otelcol, prometheus, loki, tempo).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startAndWait, type ManagedProcess } from './lib/processes.ts';
import {
  missingStackBinaries,
  repoRoot,
  startLocalStack,
  type LocalStack,
} from '../test/support/local-stack.ts';

const { values: flags } = parseArgs({
  options: {
    'no-build': { type: 'boolean', default: false },
    'backends-only': { type: 'boolean', default: false },
    'keep-data': { type: 'boolean', default: false },
  },
});

const services = [
  { name: 'user-service', workspace: 'services/user-service', port: 8081 },
  { name: 'api-gateway', workspace: 'services/api-gateway', port: 8080 },
] as const;

function log(message: string): void {
  console.log(`stack:local: ${message}`);
}

async function run(command: string, args: string[]): Promise<void> {
  const child = spawn(command, args, { cwd: repoRoot, stdio: 'inherit' });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${String(code)}`);
}

function usage(stack: LocalStack, withServices: boolean): string {
  const { urls } = stack;
  const gw = 'http://127.0.0.1:8080';
  const us = 'http://127.0.0.1:8081';
  const lines = [
    '',
    'Backends',
    `  OTLP gRPC (collector)  ${urls.otlpGrpc}     OTLP HTTP ${urls.otlpHttp}`,
    `  collector health       ${urls.collectorHealth}/     own metrics ${urls.collectorMetrics}`,
    `  Prometheus             ${urls.prometheus}`,
    `  Loki                   ${urls.loki}`,
    `  Tempo                  ${urls.tempo}`,
    `  data and logs          ${stack.dataDir}  (logs/<name>.log)`,
  ];
  if (withServices) {
    lines.push(
      '',
      'Services',
      `  api-gateway  ${gw}     user-service  ${us}`,
      '',
      'Try',
      `  curl -i ${gw}/user/123`,
      `  curl -i ${gw}/user/999`,
      `  curl -X PUT -H 'content-type: application/json' -d '{"errorRate":0.3,"latencyMs":200}' ${us}/admin/faults`,
      `  curl -X PUT -H 'content-type: application/json' -d '{"errorRate":0,"latencyMs":0}' ${us}/admin/faults`,
    );
  } else {
    lines.push(
      '',
      'Services: not started (--backends-only). Point them at the collector with',
      `  OTEL_EXPORTER_OTLP_ENDPOINT=${urls.otlpGrpc}`,
    );
  }
  lines.push(
    '',
    'Query the backends (span metrics and the service graph appear ~15s after the first requests)',
    `  curl -s ${urls.prometheus}/api/v1/query --data-urlencode 'query=sum by (outcome) (api_user_requests_total)'`,
    `  curl -s ${urls.prometheus}/api/v1/query --data-urlencode 'query=sum by (service_name, span_name) (rate(traces_span_metrics_calls_total[5m]))'`,
    `  curl -s ${urls.prometheus}/api/v1/query --data-urlencode 'query=traces_service_graph_request_total'`,
    `  curl -s ${urls.prometheus}/api/v1/query_exemplars --data-urlencode 'query=traces_span_metrics_duration_seconds_bucket' --data-urlencode "start=$(($(date +%s) - 900))" --data-urlencode "end=$(date +%s)"`,
    `  curl -s -G ${urls.loki}/loki/api/v1/query_range --data-urlencode 'query={service_name="api-gateway"}' --data-urlencode 'limit=5'`,
    `  curl -s -G ${urls.loki}/loki/api/v1/query_range --data-urlencode 'query={service_name="api-gateway"} | trace_id="<trace id>"'`,
    `  curl -s -G ${urls.tempo}/api/search --data-urlencode 'q={resource.service.name="api-gateway"}' --data-urlencode 'limit=5'`,
    `  curl -s ${urls.tempo}/api/traces/<trace id>`,
    '',
    'Ctrl-C stops everything.',
  );
  return lines.join('\n');
}

async function main(): Promise<void> {
  const missing = missingStackBinaries();
  if (missing.length > 0) {
    throw new Error(`missing ${missing.join(', ')}: run 'bash scripts/install-tools.sh' first`);
  }
  const withServices = !flags['backends-only'];
  if (withServices && !flags['no-build']) {
    log('npm run build');
    await run('npm', ['run', '--silent', 'build']);
  }

  log('starting Prometheus, Loki, Tempo and the collector');
  const stack = await startLocalStack({ ports: 'fixed', keepData: flags['keep-data'] });
  const running: ManagedProcess[] = [];
  let stopping: Promise<never> | undefined;

  // Stops everything once (a second Ctrl-C or a dying process during the stop changes nothing).
  const shutdown = (code: number): Promise<never> => {
    stopping ??= (async () => {
      clearInterval(watcher);
      log('stopping');
      // Services first (they flush their telemetry to the collector), then the backends.
      for (const proc of [...running].reverse()) await proc.stop();
      await stack.stop();
      log('stopped');
      process.exit(code);
    })();
    return stopping;
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  // Watch for a program that dies on its own: report it and stop the rest.
  const watcher = setInterval(() => {
    if (stopping) return;
    try {
      stack.assertRunning();
      for (const proc of running) {
        if (proc.exitStatus() !== undefined) {
          throw new Error(
            `${proc.spec.name} exited (${String(proc.exitStatus())}); last output:\n${proc.tail()}`,
          );
        }
      }
    } catch (err) {
      console.error(`stack:local: ${err instanceof Error ? err.message : String(err)}`);
      void shutdown(1);
    }
  }, 1_000);

  try {
    if (withServices) {
      for (const service of services) {
        log(`starting ${service.name} on :${service.port}`);
        running.push(
          await startAndWait(
            {
              name: service.name,
              command: 'npm',
              args: ['start', '--silent', '--workspace', service.workspace],
              cwd: repoRoot,
              env: {
                PORT: String(service.port),
                USER_SERVICE_URL: 'http://127.0.0.1:8081',
                OTEL_EXPORTER_OTLP_ENDPOINT: stack.urls.otlpGrpc,
              },
              readyUrl: `http://127.0.0.1:${service.port}/readyz`,
              logFile: join(stack.logDir, `${service.name}.log`),
            },
            60_000,
          ),
        );
      }
    }
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    await shutdown(1);
  }

  console.log(usage(stack, withServices));
}

main().catch((err: unknown) => {
  console.error(`stack:local: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
