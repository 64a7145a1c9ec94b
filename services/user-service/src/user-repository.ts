// Queries against the simulated database, instrumented by hand the way a database client library is:
// each query is a CLIENT span following the stable database semantic conventions, and its duration
// is recorded in the `db.client.operation.duration` histogram. This is the third tier of the trace:
//   api-gateway GET /user/:id -> api-gateway GET (fetch) -> user-service GET /users/:id -> SELECT users

import { setTimeout as sleep } from 'node:timers/promises';
import { SpanKind, SpanStatusCode, metrics, trace, type Attributes } from '@opentelemetry/api';
import {
  ATTR_DB_COLLECTION_NAME,
  ATTR_DB_NAMESPACE,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_QUERY_SUMMARY,
  ATTR_DB_QUERY_TEXT,
  ATTR_DB_RESPONSE_STATUS_CODE,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  METRIC_DB_CLIENT_OPERATION_DURATION,
} from '@opentelemetry/semantic-conventions';
import type { Faults } from './faults.ts';
import type { User } from '@nos/service-kit';

const SCOPE = '@nos/user-service';

/** Attributes shared by the span and the metric (low cardinality: no ids, no query parameters). */
export const QUERY_ATTRIBUTES: Readonly<Attributes> = Object.freeze({
  // "other_sql": the specification's value for a SQL database without its own identifier.
  [ATTR_DB_SYSTEM_NAME]: 'other_sql',
  [ATTR_DB_NAMESPACE]: 'users_db',
  [ATTR_DB_COLLECTION_NAME]: 'users',
  [ATTR_DB_OPERATION_NAME]: 'SELECT',
  [ATTR_DB_QUERY_SUMMARY]: 'SELECT users',
});

/** Parameterised, so it never contains user input. */
export const FIND_USER_QUERY = 'SELECT id, name, email FROM users WHERE id = ?';

/** Error code of a simulated failure (like a SQLSTATE or driver error code). */
export const INJECTED_FAULT_CODE = 'SIMULATED_FAULT';

export class DatabaseError extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.name = 'DatabaseError';
    this.code = code;
  }
}

export type LookupResult = 'found' | 'not_found' | 'error';

export class UserRepository {
  readonly #table: ReadonlyMap<number, User>;
  readonly #faults: Faults;
  readonly #baseLatencyMs: number;
  readonly #tracer = trace.getTracer(SCOPE);
  readonly #duration = metrics
    .getMeter(SCOPE)
    .createHistogram(METRIC_DB_CLIENT_OPERATION_DURATION, {
      description: 'Duration of database client operations.',
      unit: 's',
      // The buckets the database semantic conventions recommend for this metric.
      advice: { explicitBucketBoundaries: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10] },
    });
  readonly #lookups = metrics.getMeter(SCOPE).createCounter('user.lookups', {
    description: 'User lookups by result (found, not_found, error).',
    unit: '{lookup}',
  });

  constructor(table: ReadonlyMap<number, User>, faults: Faults, baseLatencyMs: number) {
    this.#table = table;
    this.#faults = faults;
    this.#baseLatencyMs = baseLatencyMs;
  }

  /** Looks a user up by id. Throws DatabaseError when a fault is injected. */
  findById(id: number): Promise<User | undefined> {
    const spanName = QUERY_ATTRIBUTES[ATTR_DB_QUERY_SUMMARY] as string;
    return this.#tracer.startActiveSpan(
      spanName,
      {
        kind: SpanKind.CLIENT,
        attributes: { ...QUERY_ATTRIBUTES, [ATTR_DB_QUERY_TEXT]: FIND_USER_QUERY },
      },
      async (span) => {
        const start = performance.now();
        const metricAttributes: Attributes = { ...QUERY_ATTRIBUTES };
        let result: LookupResult = 'error';
        try {
          const { latencyMs } = this.#faults.settings;
          // Simulated query time: base latency with +-50 % jitter, plus any injected latency.
          const base = this.#baseLatencyMs * (0.5 + Math.random());
          await sleep(base + latencyMs);
          if (this.#faults.shouldFail()) {
            throw new DatabaseError(
              'simulated database failure (injected fault)',
              INJECTED_FAULT_CODE,
            );
          }
          const user = this.#table.get(id);
          span.setAttribute('db.response.returned_rows', user ? 1 : 0);
          result = user ? 'found' : 'not_found';
          return user ? { ...user } : undefined;
        } catch (error) {
          const code = error instanceof DatabaseError ? error.code : 'unknown';
          span.recordException(error as Error);
          span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
          span.setAttributes({ [ATTR_ERROR_TYPE]: code, [ATTR_DB_RESPONSE_STATUS_CODE]: code });
          metricAttributes[ATTR_ERROR_TYPE] = code;
          throw error;
        } finally {
          this.#duration.record((performance.now() - start) / 1000, metricAttributes);
          this.#lookups.add(1, { result });
          span.end();
        }
      },
    );
  }
}
