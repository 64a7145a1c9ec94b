// The resource every signal carries. Precedence, lowest first:
//   SDK defaults (telemetry.sdk.*) < this project's defaults (service.name, service.version,
//   service.namespace, deployment.environment.name=local) < detected attributes (service.instance.id,
//   host, os, process, container) < OTEL_RESOURCE_ATTRIBUTES < OTEL_SERVICE_NAME.
// So a user's OTEL_* setting always wins, as the specification requires.

import { containerDetector } from '@opentelemetry/resource-detector-container';
import {
  defaultResource,
  detectResources,
  envDetector,
  hostDetector,
  osDetector,
  processDetector,
  resourceFromAttributes,
  serviceInstanceIdDetector,
  type Resource,
  type ResourceDetector,
} from '@opentelemetry/resources';
import {
  ATTR_DEPLOYMENT_ENVIRONMENT_NAME,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_NAMESPACE,
  ATTR_SERVICE_VERSION,
} from '@opentelemetry/semantic-conventions';

export const SERVICE_NAMESPACE = 'node-observability-stack';
export const DEFAULT_ENVIRONMENT = 'local';

export interface ServiceInfo {
  name: string;
  version: string;
}

// Same names as the SDK's OTEL_NODE_RESOURCE_DETECTORS, plus `container`. Order matters: later
// detectors override earlier ones, and the environment detectors come last.
const DETECTOR_ORDER: ReadonlyArray<[string, ResourceDetector[]]> = [
  ['serviceinstance', [serviceInstanceIdDetector]],
  ['host', [hostDetector]],
  ['os', [osDetector]],
  ['process', [processDetector]],
  ['container', [containerDetector]],
  // envDetector reads OTEL_RESOURCE_ATTRIBUTES, then lets OTEL_SERVICE_NAME override service.name.
  ['env', [envDetector]],
];

export const DETECTOR_NAMES: readonly string[] = DETECTOR_ORDER.map(([name]) => name);

/**
 * Detectors selected by OTEL_NODE_RESOURCE_DETECTORS (comma-separated; `all` or unset: all of them,
 * `none`: none). Unknown names are returned so the caller can warn about them.
 */
export function selectDetectors(value: string | undefined): {
  names: string[];
  detectors: ResourceDetector[];
  unknown: string[];
} {
  const requested = (value ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const all = requested.length === 0 || requested.includes('all');
  const none = !all && requested.includes('none');
  const unknown = requested.filter(
    (n) => n !== 'all' && n !== 'none' && !DETECTOR_NAMES.includes(n),
  );
  const chosen = DETECTOR_ORDER.filter(([name]) => !none && (all || requested.includes(name)));
  return {
    names: chosen.map(([name]) => name),
    detectors: chosen.flatMap(([, detectors]) => detectors),
    unknown,
  };
}

/** The project's own attributes, lowest priority after the SDK defaults. */
export function serviceAttributes(service: ServiceInfo): Record<string, string> {
  return {
    [ATTR_SERVICE_NAME]: service.name,
    [ATTR_SERVICE_VERSION]: service.version,
    [ATTR_SERVICE_NAMESPACE]: SERVICE_NAMESPACE,
    [ATTR_DEPLOYMENT_ENVIRONMENT_NAME]: DEFAULT_ENVIRONMENT,
  };
}

/**
 * Detects and merges the resource, waits for asynchronous detectors (container id), and returns it
 * with all attributes settled, empty values dropped (the container detector yields "" outside a
 * container).
 */
export async function buildResource(
  service: ServiceInfo,
  detectors: ResourceDetector[],
): Promise<Resource> {
  const merged = defaultResource()
    .merge(resourceFromAttributes(serviceAttributes(service)))
    .merge(detectResources({ detectors }));
  await merged.waitForAsyncAttributes?.();
  const settled = Object.fromEntries(
    Object.entries(merged.attributes).filter(([, value]) => value !== '' && value !== undefined),
  );
  return resourceFromAttributes(settled, { schemaUrl: merged.schemaUrl });
}
