// Step 4 of a graceful shutdown: what the process recorded leaves it before it exits.

import { getTelemetryState } from '@nos/telemetry';
import { withTimeout } from './with-timeout.ts';

/**
 * Closes the logger (its OTLP export flushes) and shuts the SDK down (pending spans, a last metrics
 * collection), both at once and each bounded, so a dead collector cannot hang the exit.
 */
export async function flushTelemetry(
  closeLogger: (timeoutMs?: number) => Promise<void>,
  timeoutMs: number,
): Promise<void> {
  const telemetry = getTelemetryState();
  // The SDK's shutdown rejects when the last export fails (collector down): that is reported,
  // and does not change the exit code: every request was answered.
  await Promise.all([
    withTimeout(closeLogger(timeoutMs), timeoutMs + 100),
    telemetry
      ? withTimeout(telemetry.shutdown(), timeoutMs, (error) =>
          telemetry.reportProblem('error', `telemetry flush at shutdown failed: ${String(error)}`),
        )
      : Promise.resolve(true),
  ]);
}
