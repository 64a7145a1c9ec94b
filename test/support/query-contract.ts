// LogQL and TraceQL without Loki and Tempo (their code is AGPL: not built or run here). A query is
// parsed by the grammar Grafana publishes for its editor (@grafana/lezer-logql, @grafana/lezer-traceql,
// Apache-2.0; no error node allowed), and what it names is checked against what the recording stand-ins
// received, seen the way Loki and Tempo store OTLP data:
//   Loki (https://grafana.com/docs/loki/latest/send-data/otel/, "Format considerations", and
//   https://grafana.com/docs/loki/latest/get-started/labels/structured-metadata/): resource attributes of
//   the configured list (backends/loki.yaml distributor.otlp_config.default_resource_attributes_as_index_labels)
//   become index labels; every other resource attribute, the log record's attributes, trace_id, span_id,
//   flags, severity_text, severity_number and the scope's name (scope_name) and version become
//   structured metadata; names are sanitized to label names (service.name -> service_name); the body is
//   the line.
//   Tempo (https://grafana.com/docs/tempo/latest/traceql/construct-traceql-queries/): `resource.x` is a
//   resource attribute, `span.x` a span attribute, an unscoped `.x` either; intrinsics name, kind
//   (server, client, ...), status (error, ok, unset) and duration; `A >> B` matches spans B that descend
//   from a span matching A in the same trace.
// Then each query is evaluated over that data and must match something: a stream selector and label
// filters must select at least one received record, a spanset filter at least one received span. Any
// syntax the evaluator does not know fails the check, so a new kind of query cannot slip through.
import { parser as logqlParser } from '@grafana/lezer-logql';
import { parser as traceqlParser } from '@grafana/lezer-traceql';
import type { SyntaxNode, Tree } from '@lezer/common';
import type { ReceivedLog, ReceivedSpan, Value } from './otlp-receiver.ts';

/** Error nodes of a parse, with the text around each. */
function parseErrors(tree: Tree, query: string): string[] {
  const errors: string[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) {
        errors.push(`at ${node.from}: "${query.slice(Math.max(0, node.from - 10), node.to + 10)}"`);
      }
    },
  });
  return errors;
}

const text = (query: string, node: SyntaxNode | null): string =>
  node ? query.slice(node.from, node.to) : '';
const unquote = (s: string): string =>
  s.startsWith('`') ? s.slice(1, -1) : (JSON.parse(s) as string);
const children = (node: SyntaxNode): SyntaxNode[] => {
  const out: SyntaxNode[] = [];
  for (let c = node.firstChild; c; c = c.nextSibling) out.push(c);
  return out;
};

// ---------------------------------------------------------------------------------------------------
// Loki

/** A label name as Loki makes it from an OTLP attribute name. */
export const lokiLabelName = (name: string): string => name.replace(/[^A-Za-z0-9_]/g, '_');

export interface LokiEntry {
  labels: Record<string, string>;
  metadata: Record<string, string>;
  line: string;
}

const str = (v: Value): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** A received OTLP log record as Loki stores it. */
export function lokiEntry(log: ReceivedLog, indexAttributes: readonly string[]): LokiEntry {
  const labels: Record<string, string> = {};
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(log.resource)) {
    (indexAttributes.includes(key) ? labels : metadata)[lokiLabelName(key)] = str(value);
  }
  for (const [key, value] of Object.entries(log.attributes))
    metadata[lokiLabelName(key)] = str(value);
  if (log.traceId) metadata.trace_id = log.traceId;
  if (log.spanId) metadata.span_id = log.spanId;
  if (log.flags) metadata.flags = String(log.flags);
  if (log.severityText) metadata.severity_text = log.severityText;
  if (log.severityNumber) metadata.severity_number = String(log.severityNumber);
  if (log.scope) metadata.scope_name = log.scope;
  return { labels, metadata, line: str(log.body) };
}

interface LabelTest {
  label: string;
  op: string;
  value: string | number;
  /** Stream selector (index labels only) or label filter (labels and structured metadata). */
  stream: boolean;
}

export interface LogqlQuery {
  errors: string[];
  tests: LabelTest[];
  groupBy: string[];
}

export function parseLogql(query: string): LogqlQuery {
  const tree = logqlParser.parse(query);
  const result: LogqlQuery = { errors: parseErrors(tree, query), tests: [], groupBy: [] };
  tree.iterate({
    enter(ref) {
      const node = ref.node;
      switch (node.name) {
        case 'Matcher': {
          const [id, op, value] = children(node);
          const stream = node.parent?.name === 'Matchers';
          result.tests.push({
            label: text(query, id ?? null),
            op: text(query, op ?? null),
            value: unquote(text(query, value ?? null)),
            stream,
          });
          return false;
        }
        case 'NumberFilter': {
          const [id, op, value] = children(node);
          result.tests.push({
            label: text(query, id ?? null),
            op: text(query, op ?? null),
            value: Number(text(query, value ?? null)),
            stream: false,
          });
          return false;
        }
        case 'Grouping':
          for (const id of node.getChildren('Labels').flatMap((l) => l.getChildren('Identifier'))) {
            result.groupBy.push(text(query, id));
          }
          return false;
        case 'LineFilter':
        case 'JsonExpressionParser':
        case 'LabelParser':
        case 'LabelFormatExpr':
        case 'LineFormatExpr':
        case 'Unwrap':
          throw new Error(`${node.name} in "${query}": not known to the contract check (add it)`);
        default:
          return undefined;
      }
    },
  });
  return result;
}

function compare(actual: string | undefined, op: string, expected: string | number): boolean {
  if (actual === undefined) return op === '!=' || op === '!~' ? true : false;
  switch (op) {
    case '=':
    case '==':
      return typeof expected === 'number' ? Number(actual) === expected : actual === expected;
    case '!=':
      return typeof expected === 'number' ? Number(actual) !== expected : actual !== expected;
    case '=~':
      return new RegExp(`^(?:${String(expected)})$`).test(actual);
    case '!~':
      return !new RegExp(`^(?:${String(expected)})$`).test(actual);
    case '>':
      return Number(actual) > Number(expected);
    case '>=':
      return Number(actual) >= Number(expected);
    case '<':
      return Number(actual) < Number(expected);
    case '<=':
      return Number(actual) <= Number(expected);
    default:
      throw new Error(`operator ${op}: not known to the contract check`);
  }
}

/** The entries a parsed LogQL query selects (stream matchers on labels; filters on labels + metadata). */
export function lokiSelect(query: LogqlQuery, entries: LokiEntry[]): LokiEntry[] {
  return entries.filter((entry) =>
    query.tests.every((t) =>
      compare(
        t.stream ? entry.labels[t.label] : (entry.labels[t.label] ?? entry.metadata[t.label]),
        t.op,
        t.value,
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------------------
// Tempo

export interface TraceqlQuery {
  errors: string[];
  /** Attributes named: scope (resource, span or '' for unscoped) and name. */
  attributes: { scope: string; name: string }[];
  intrinsics: string[];
  tree: Tree;
  query: string;
}

export function parseTraceql(query: string): TraceqlQuery {
  const tree = traceqlParser.parse(query);
  const result: TraceqlQuery = {
    errors: parseErrors(tree, query),
    attributes: [],
    intrinsics: [],
    tree,
    query,
  };
  tree.iterate({
    enter(ref) {
      if (ref.name === 'AttributeField') {
        const [first, second] = children(ref.node);
        if (second)
          result.attributes.push({ scope: text(query, first ?? null), name: text(query, second) });
        else
          result.attributes.push({
            scope: '',
            name: text(query, first ?? null).replace(/^\./, ''),
          });
      } else if (ref.name === 'IntrinsicField') {
        result.intrinsics.push(text(query, ref.node));
      }
    },
  });
  return result;
}

const KIND: Record<string, number> = {
  internal: 1,
  server: 2,
  client: 3,
  producer: 4,
  consumer: 5,
};
const STATUS: Record<string, number> = { unset: 0, ok: 1, error: 2 };

function durationNs(literal: string): number {
  const match = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)$/.exec(literal);
  if (!match) throw new Error(`duration ${literal}`);
  const unit = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 }[
    match[2] as 'ns' | 'us' | 'µs' | 'ms' | 's' | 'm' | 'h'
  ];
  return Number(match[1]) * unit;
}

/** The value a field of the query has on a span. */
function fieldValue(q: TraceqlQuery, node: SyntaxNode, span: ReceivedSpan): Value | undefined {
  if (node.name === 'AttributeField') {
    const [first, second] = children(node);
    if (!second) {
      const name = text(q.query, first ?? null).replace(/^\./, '');
      return span.attributes[name] ?? span.resource[name];
    }
    const scope = text(q.query, first ?? null);
    const name = text(q.query, second);
    if (scope === 'resource') return span.resource[name];
    if (scope === 'span') return span.attributes[name];
    throw new Error(`attribute scope ${scope}: not known to the contract check`);
  }
  if (node.name === 'IntrinsicField') {
    const name = text(q.query, node);
    if (name === 'name') return span.name;
    if (name === 'kind') return span.kind;
    if (name === 'status') return span.status.code;
    if (name === 'duration') return Number(span.endTimeUnixNano - span.startTimeUnixNano);
    throw new Error(`intrinsic ${name}: not known to the contract check`);
  }
  throw new Error(`field ${node.name}: not known to the contract check`);
}

function staticValue(q: TraceqlQuery, node: SyntaxNode, field: string): Value {
  const literal = text(q.query, node);
  const child = node.firstChild;
  if (child?.name === 'String') return unquote(literal);
  if (child?.name === 'Duration') return durationNs(literal);
  if (child?.name === 'Integer' || child?.name === 'Float') return Number(literal);
  if (field === 'kind' && literal in KIND) return KIND[literal] as number;
  if (field === 'status' && literal in STATUS) return STATUS[literal] as number;
  throw new Error(`static ${literal}: not known to the contract check`);
}

function evalField(q: TraceqlQuery, node: SyntaxNode, span: ReceivedSpan): boolean {
  const parts = children(node);
  if (parts.length === 1 && parts[0]?.name === 'FieldExpression')
    return evalField(q, parts[0], span);
  const [left, op, right] = parts;
  if (!left || !op || !right) throw new Error(`expression "${text(q.query, node)}"`);
  const opText = text(q.query, op);
  if (opText === '&&') return evalField(q, left, span) && evalField(q, right, span);
  if (opText === '||') return evalField(q, left, span) || evalField(q, right, span);
  const field = left.firstChild;
  const value = right.firstChild;
  if (!field || value?.name !== 'Static') throw new Error(`comparison "${text(q.query, node)}"`);
  const actual = fieldValue(q, field, span);
  const expected = staticValue(q, value, text(q.query, field));
  if (actual === undefined) return opText === '!=';
  return compare(
    str(actual as Value),
    opText,
    typeof expected === 'number' ? expected : str(expected),
  );
}

/** The spans one spanset filter `{ ... }` matches. */
function filterSpans(q: TraceqlQuery, filter: SyntaxNode, spans: ReceivedSpan[]): ReceivedSpan[] {
  const expression = filter.getChild('FieldExpression');
  if (!expression) return spans; // `{ }` matches every span
  return spans.filter((s) => evalField(q, expression, s));
}

function evalPipeline(q: TraceqlQuery, node: SyntaxNode, spans: ReceivedSpan[]): ReceivedSpan[] {
  if (node.name === 'SpansetPipeline') {
    const parts = children(node);
    if (parts.length !== 1 || parts[0]?.name !== 'SpansetFilter') {
      throw new Error(`pipeline "${text(q.query, node)}": not known to the contract check`);
    }
    return filterSpans(q, parts[0], spans);
  }
  const parts = children(node);
  if (parts.length === 1 && parts[0]) return evalPipeline(q, parts[0], spans);
  const [left, op, right] = parts;
  if (!left || !op || !right || op.name !== 'Desc') {
    throw new Error(`"${text(q.query, node)}": not known to the contract check`);
  }
  const ancestors = evalPipeline(q, left, spans);
  const byId = new Map(spans.map((s) => [`${s.traceId}/${s.spanId}`, s]));
  const descends = (span: ReceivedSpan): boolean => {
    for (let p = byId.get(`${span.traceId}/${span.parentSpanId}`); p;) {
      if (ancestors.includes(p)) return true;
      p = byId.get(`${p.traceId}/${p.parentSpanId}`);
    }
    return false;
  };
  return evalPipeline(q, right, spans).filter(descends);
}

/** The spans a parsed TraceQL query matches among the received ones. */
export function tempoSelect(q: TraceqlQuery, spans: ReceivedSpan[]): ReceivedSpan[] {
  const top = q.tree.topNode.firstChild;
  if (!top) throw new Error(`empty TraceQL: ${q.query}`);
  return evalPipeline(q, top, spans);
}
