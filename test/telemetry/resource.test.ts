// The resource every signal carries: detector selection, precedence, and the service identity read
// from the nearest package.json.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildResource, DETECTOR_NAMES, selectDetectors } from '@nos/telemetry/resource';
import { findServiceInfo, serviceNameFromPackageName } from '@nos/telemetry/service-info';
import { repoRoot } from '../support/service-process.ts';

describe('resource', () => {
  test('OTEL_NODE_RESOURCE_DETECTORS selects detectors; env detectors stay last', () => {
    assert.deepEqual(selectDetectors(undefined).names, DETECTOR_NAMES);
    assert.deepEqual(selectDetectors('all').names, DETECTOR_NAMES);
    assert.deepEqual(selectDetectors('none').names, []);
    const some = selectDetectors('env, host,bogus');
    assert.deepEqual(some.names, ['host', 'env']);
    assert.deepEqual(some.unknown, ['bogus']);
    assert.equal(DETECTOR_NAMES.at(-1), 'env');
    assert.ok(DETECTOR_NAMES.includes('container'));
  });

  test('precedence: project defaults < detectors < OTEL_RESOURCE_ATTRIBUTES < OTEL_SERVICE_NAME', async () => {
    const saved = { ...process.env };
    try {
      process.env.OTEL_RESOURCE_ATTRIBUTES =
        'deployment.environment.name=staging,service.instance.id=pod-1,service.name=from-attributes';
      delete process.env.OTEL_SERVICE_NAME;
      const { detectors } = selectDetectors(undefined);
      let resource = await buildResource({ name: 'api-gateway', version: '1.2.3' }, detectors);
      assert.equal(resource.attributes['service.name'], 'from-attributes');
      assert.equal(resource.attributes['service.version'], '1.2.3');
      assert.equal(resource.attributes['service.namespace'], 'node-observability-stack');
      assert.equal(resource.attributes['deployment.environment.name'], 'staging');
      assert.equal(resource.attributes['service.instance.id'], 'pod-1');
      assert.equal(resource.attributes['telemetry.sdk.language'], 'nodejs');
      assert.equal(resource.attributes['process.pid'], process.pid);
      const containerId = resource.attributes['container.id'];
      assert.ok(
        containerId === undefined || (typeof containerId === 'string' && containerId !== ''),
        'never an empty container.id',
      );

      process.env.OTEL_SERVICE_NAME = 'from-service-name';
      delete process.env.OTEL_RESOURCE_ATTRIBUTES;
      resource = await buildResource({ name: 'api-gateway', version: '1.2.3' }, detectors);
      assert.equal(resource.attributes['service.name'], 'from-service-name');
      assert.equal(resource.attributes['deployment.environment.name'], 'local');
      assert.match(String(resource.attributes['service.instance.id']), /^[0-9a-f-]{36}$/);
    } finally {
      process.env = saved;
    }
  });

  test('service name and version come from the nearest package.json', () => {
    assert.equal(serviceNameFromPackageName('@nos/api-gateway'), 'api-gateway');
    assert.equal(serviceNameFromPackageName('plain'), 'plain');
    assert.deepEqual(findServiceInfo(`${repoRoot}/services/user-service/src`), {
      name: 'user-service',
      version: '0.1.0',
    });
  });
});
