// Statistics of a run in phases (the incident scenario's baseline, incident, recovery), and the lines
// that show them. Pure.

import { formatPhase, formatProgress, formatSummary } from './stats-format.ts';
import { TrafficStats, type Status } from './stats.ts';

/**
 * Statistics per phase of a run, plus the whole run. A request belongs to the phase it was sent in
 * (its response may arrive in the next one), so a phase's line never shows another phase's
 * latencies.
 */
export class PhasedStats {
  readonly overall: TrafficStats;
  readonly #phases = new Map<string, { stats: TrafficStats; startedAt: number }>();
  readonly #startedAt: number;
  readonly #options: ConstructorParameters<typeof TrafficStats>[0];
  #current: string | undefined;

  constructor(startedAt: number, options: ConstructorParameters<typeof TrafficStats>[0] = {}) {
    this.#startedAt = startedAt;
    this.#options = options;
    this.overall = new TrafficStats(options);
  }

  get phase(): string | undefined {
    return this.#current;
  }

  /** Requests sent from `at` on belong to `phase`. */
  enter(phase: string, at: number): void {
    this.#current = phase;
    if (!this.#phases.has(phase)) {
      this.#phases.set(phase, { stats: new TrafficStats(this.#options), startedAt: at });
    }
  }

  /** Call when a request is sent; call the result with its outcome. */
  send(): (status: Status, latencyMs: number, at: number) => void {
    const phase = this.#current === undefined ? undefined : this.#phases.get(this.#current);
    return (status, latencyMs, at) => {
      this.overall.record(status, latencyMs, at);
      phase?.stats.record(status, latencyMs, at);
    };
  }

  /** The live line: the current phase's requests (or the run's); undefined before any outcome. */
  progress(now: number): string | undefined {
    const phase = this.#current === undefined ? undefined : this.#phases.get(this.#current);
    const s = phase
      ? phase.stats.snapshot(now, phase.startedAt)
      : this.overall.snapshot(now, this.#startedAt);
    if (s.total === 0) return undefined;
    return formatProgress(s, { phase: this.#current, runElapsedMs: now - this.#startedAt });
  }

  /** The whole run, then one line per phase (when there were phases). */
  summary(now: number, extra: Record<string, number> = {}): string {
    const lines = [formatSummary(this.overall.snapshot(now, this.#startedAt), extra)];
    const phases = [...this.#phases.entries()];
    if (phases.length > 0) lines.push('by phase (requests sent in it):');
    phases.forEach(([name, { stats, startedAt }], i) => {
      const endedAt = phases[i + 1]?.[1].startedAt ?? now;
      lines.push(`  ${formatPhase(name, stats.snapshot(endedAt, startedAt))}`);
    });
    return lines.join('\n');
  }
}
