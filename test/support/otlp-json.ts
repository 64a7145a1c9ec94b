// Reads what the recording stand-ins wrote: the collector's file exporter writes each export request it
// receives as one line of OTLP/JSON (ExportTraceServiceRequest / ExportLogsServiceRequest, the JSON
// mapping of opentelemetry-proto: lowerCamelCase fields, hex trace and span ids, 64-bit integers as
// strings). Returns the same shapes as the in-process receiver (otlp-receiver.ts).
import type { Attributes, ReceivedLog, ReceivedSpan, Value } from './otlp-receiver.ts';

type Raw = Record<string, unknown>;
const list = (value: unknown): Raw[] => (Array.isArray(value) ? (value as Raw[]) : []);

function anyValue(v: Raw | undefined): Value {
  if (!v) return null;
  if ('stringValue' in v) return v.stringValue as string;
  if ('boolValue' in v) return v.boolValue as boolean;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('arrayValue' in v) return list((v.arrayValue as Raw).values).map(anyValue);
  if ('kvlistValue' in v) return attributes((v.kvlistValue as Raw).values);
  if ('bytesValue' in v) return Buffer.from(v.bytesValue as string, 'base64').toString('hex');
  return null;
}

export function attributes(kvs: unknown): Attributes {
  const out: Attributes = {};
  for (const kv of list(kvs)) out[kv.key as string] = anyValue(kv.value as Raw | undefined);
  return out;
}

/** One entry per export request the stand-in received, then every span of it. */
export function spansOf(lines: string[]): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const line of lines) {
    const request = JSON.parse(line) as Raw;
    for (const rs of list(request.resourceSpans)) {
      const resource = attributes((rs.resource as Raw | undefined)?.attributes);
      for (const ss of list(rs.scopeSpans)) {
        const scope = ((ss.scope as Raw | undefined)?.name as string | undefined) ?? '';
        for (const s of list(ss.spans)) {
          const status = (s.status as Raw | undefined) ?? {};
          spans.push({
            traceId: (s.traceId as string | undefined) ?? '',
            spanId: (s.spanId as string | undefined) ?? '',
            parentSpanId: (s.parentSpanId as string | undefined) ?? '',
            traceState: (s.traceState as string | undefined) ?? '',
            flags: Number(s.flags ?? 0),
            name: (s.name as string | undefined) ?? '',
            kind: Number(s.kind ?? 0),
            startTimeUnixNano: BigInt((s.startTimeUnixNano as string | undefined) ?? 0),
            endTimeUnixNano: BigInt((s.endTimeUnixNano as string | undefined) ?? 0),
            attributes: attributes(s.attributes),
            events: list(s.events).map((e) => ({
              name: (e.name as string | undefined) ?? '',
              timeUnixNano: BigInt((e.timeUnixNano as string | undefined) ?? 0),
              attributes: attributes(e.attributes),
            })),
            links: list(s.links).map((l) => ({
              traceId: (l.traceId as string | undefined) ?? '',
              spanId: (l.spanId as string | undefined) ?? '',
              traceState: (l.traceState as string | undefined) ?? '',
              attributes: attributes(l.attributes),
              flags: Number(l.flags ?? 0),
            })),
            status: {
              code: Number(status.code ?? 0),
              message: (status.message as string | undefined) ?? '',
            },
            resource,
            scope,
          });
        }
      }
    }
  }
  return spans;
}

export function logsOf(lines: string[]): ReceivedLog[] {
  const logs: ReceivedLog[] = [];
  for (const line of lines) {
    const request = JSON.parse(line) as Raw;
    for (const rl of list(request.resourceLogs)) {
      const resource = attributes((rl.resource as Raw | undefined)?.attributes);
      for (const sl of list(rl.scopeLogs)) {
        const scope = ((sl.scope as Raw | undefined)?.name as string | undefined) ?? '';
        for (const l of list(sl.logRecords)) {
          logs.push({
            timeUnixNano: BigInt((l.timeUnixNano as string | undefined) ?? 0),
            traceId: (l.traceId as string | undefined) ?? '',
            spanId: (l.spanId as string | undefined) ?? '',
            flags: Number(l.flags ?? 0),
            severityNumber: Number(l.severityNumber ?? 0),
            severityText: (l.severityText as string | undefined) ?? '',
            body: anyValue(l.body as Raw | undefined),
            attributes: attributes(l.attributes),
            resource,
            scope,
          });
        }
      }
    }
  }
  return logs;
}
