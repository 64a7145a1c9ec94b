// chart/'s values: values.schema.json and the templates reject bad values, the preStop sleep fits the
// grace period, pods meet Pod Security "restricted" with any values, NOTES.txt, and values.yaml and the
// schema in step. Needs helm (scripts/install-tools.sh helm): a failure under CI=true when it is missing.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readYaml } from '../support/kind-stack.ts';
import { restrictedViolations, type PodSpec as SecurityPodSpec } from '../support/pod-security.ts';
import { repoRoot } from '../support/versions.ts';
import {
  run,
  chartDir,
  valuesFile,
  template,
  templateFails,
  podSpec,
  container,
  setup,
} from './chart-render.ts';

describe('chart/ (nos-service): values', () => {
  it('rejects bad values (values.schema.json and template checks)', async (t) => {
    const ctx = setup(t);
    if (!ctx) return;
    const bad: [string, string[], RegExp][] = [
      ['unknown top-level key (typo)', ['--set', 'replicas=2'], /additional propert/],
      [
        'root filesystem made writable',
        ['--set', 'securityContext.readOnlyRootFilesystem=false'],
        /readOnlyRootFilesystem/,
      ],
      [
        'privilege escalation',
        ['--set', 'securityContext.allowPrivilegeEscalation=true'],
        /allowPrivilegeEscalation/,
      ],
      ['root user allowed', ['--set', 'podSecurityContext.runAsNonRoot=false'], /runAsNonRoot/],
      [
        'no numeric uid (USER node cannot be checked)',
        ['--set', 'podSecurityContext.runAsUser=null'],
        /runAsUser/,
      ],
      ['capability added', ['--set', 'securityContext.capabilities.add={NET_ADMIN}'], /add/],
      [
        'grace period shorter than the drain',
        ['--set', 'terminationGracePeriodSeconds=5'],
        /terminationGracePeriodSeconds/,
      ],
      [
        'NodePort out of range',
        ['--set', 'service.type=NodePort,service.nodePort=8080'],
        /nodePort/,
      ],
      ['nodePort on a ClusterIP Service', ['--set', 'service.nodePort=30080'], /nodePort/],
      ['unknown Service type', ['--set', 'service.type=LoadBalancer'], /type/],
      ['bad pull policy', ['--set', 'image.pullPolicy=Sometimes'], /pullPolicy/],
      ['image tag with a space', ['--set', 'image.tag=1.0 beta'], /tag/],
      ['unknown telemetry mode', ['--set', 'otel.mode=fast'], /mode/],
      [
        'collector endpoint without scheme',
        ['--set', 'otel.endpoint=otel-collector:4317'],
        /endpoint/,
      ],
      [
        'env overriding the chart-managed OTEL_RESOURCE_ATTRIBUTES',
        ['--set', 'env.OTEL_RESOURCE_ATTRIBUTES=x=y'],
        /OTEL_RESOURCE_ATTRIBUTES/,
      ],
      [
        'resource attribute the chart sets itself',
        ['--set', 'otel.resourceAttributes.service\\.version=1'],
        /service\.version/,
      ],
      [
        'resource attribute value with a comma',
        ['--set-string', 'otel.resourceAttributes.team=a\\,b'],
        /resourceAttributes|team/,
      ],
      ['CPU request that is not a quantity', ['--set', 'resources.requests.cpu=lots'], /cpu/],
      ['probe path without leading slash', ['--set', 'livenessProbe.httpGet.path=healthz'], /path/],
      ['port out of range', ['--set', 'containerPort=70000'], /containerPort/],
      [
        'PDB with both minAvailable and maxUnavailable',
        [
          '--set',
          'podDisruptionBudget.enabled=true,podDisruptionBudget.minAvailable=1,podDisruptionBudget.maxUnavailable=1',
        ],
        /podDisruptionBudget|not/,
      ],
      // Under draft-07 every keyword next to a $ref is ignored: these passed before the schema put
      // `required` in an allOf beside the $ref. (--set x=null removes the key from the values.)
      ['no memory request', ['--set', 'resources.requests.memory=null'], /memory/],
      ['no CPU request', ['--set', 'resources.requests.cpu=null'], /cpu/],
      ['no memory limit', ['--set', 'resources.limits.memory=null'], /memory/],
      // Pod Security "restricted" needs a seccomp profile; the chart keeps one at both levels.
      [
        'pod seccomp profile removed',
        ['--set', 'podSecurityContext.seccompProfile=null'],
        /seccompProfile/,
      ],
      [
        'container seccomp profile removed',
        ['--set', 'securityContext.seccompProfile=null'],
        /seccompProfile/,
      ],
      [
        'seccomp Unconfined',
        ['--set', 'securityContext.seccompProfile.type=Unconfined'],
        /type|seccompProfile/,
      ],
      // Every key of both security contexts is known: a typo would be dropped by the API server's
      // decoding or refused by it, and the other keys of a security context loosen "restricted".
      [
        'typo in a container security key',
        ['--set', 'securityContext.readOnlyRootFileSystem=true'],
        /readOnlyRootFileSystem/,
      ],
      [
        'typo in a pod security key',
        ['--set', 'podSecurityContext.runAsGroupp=1000'],
        /runAsGroupp/,
      ],
      [
        'typo in the capabilities',
        ['--set', 'securityContext.capabilities.ad={NET_ADMIN}'],
        /ad\b|additional propert/,
      ],
      [
        'unsafe sysctl',
        [
          '--set',
          'podSecurityContext.sysctls[0].name=kernel.msgmax,podSecurityContext.sysctls[0].value=1',
        ],
        /sysctls/,
      ],
      [
        'AppArmor Unconfined (container)',
        ['--set', 'securityContext.appArmorProfile.type=Unconfined'],
        /appArmorProfile|type/,
      ],
      [
        'AppArmor Unconfined (pod)',
        ['--set', 'podSecurityContext.appArmorProfile.type=Unconfined'],
        /appArmorProfile|type/,
      ],
      [
        'SELinux type spc_t (unconfined)',
        ['--set', 'securityContext.seLinuxOptions.type=spc_t'],
        /seLinuxOptions|type/,
      ],
      [
        'SELinux user set',
        ['--set', 'podSecurityContext.seLinuxOptions.user=system_u'],
        /seLinuxOptions|user/,
      ],
      ['procMount Unmasked', ['--set', 'securityContext.procMount=Unmasked'], /procMount/],
      [
        'Windows hostProcess',
        ['--set', 'securityContext.windowsOptions.hostProcess=true'],
        /windowsOptions/,
      ],
      [
        'seccomp profile with an unknown key',
        ['--set', 'securityContext.seccompProfile.localhost=x'],
        /localhost/,
      ],
      ['no liveness probe', ['--set', 'livenessProbe=null'], /livenessProbe/],
      ['no readiness probe', ['--set', 'readinessProbe=null'], /readinessProbe/],
      // JSON schema cannot compare two values: the template's `fail` does (chart/templates/_helpers.tpl).
      [
        'preStop sleep leaving no time to drain and flush',
        ['--set', 'preStopSleepSeconds=20,terminationGracePeriodSeconds=30'],
        /terminationGracePeriodSeconds \(30\) must be at least preStopSleepSeconds \(20\) \+ 15/,
      ],
      [
        'preStop sleep as long as the grace period',
        ['--set', 'preStopSleepSeconds=30,terminationGracePeriodSeconds=30'],
        /terminationGracePeriodSeconds/,
      ],
      [
        'HPA with min > max',
        ['--set', 'autoscaling.enabled=true,autoscaling.minReplicas=4,autoscaling.maxReplicas=2'],
        /minReplicas/,
      ],
    ];
    for (const [what, args, pattern] of bad) {
      const message = await templateFails(ctx, args);
      assert.match(message, pattern, `${what}: ${message}`);
    }
  });

  it('accepts the longest preStop sleep its grace period covers (preStop + 15 = grace)', async (t) => {
    const ctx = setup(t);
    if (!ctx) return;
    const objects = await template(ctx, 'x', [
      '--set',
      'preStopSleepSeconds=15,terminationGracePeriodSeconds=30',
    ]);
    assert.equal(container(objects).lifecycle?.preStop?.sleep?.seconds, 15);
  });

  it('renders pods that meet Pod Security "restricted" (defaults, both releases, custom values)', async (t) => {
    // The namespace apps enforces "restricted" (namespaces.yaml): a pod that fails it is not admitted.
    const ctx = setup(t);
    if (!ctx) return;
    const tag = valuesFile(ctx, 'tag', { image: { tag: '0.1.0-0123456789ab' } });
    const renders = {
      defaults: await template(ctx, 'x'),
      'api-gateway': await template(ctx, 'api-gateway', [
        '-f',
        join(repoRoot, 'values/api-gateway.yaml'),
        '-f',
        tag,
      ]),
      'user-service': await template(ctx, 'user-service', [
        '-f',
        join(repoRoot, 'values/user-service.yaml'),
        '-f',
        tag,
      ]),
      'hpa, pdb, no preStop': await template(ctx, 'x', [
        '--set',
        'autoscaling.enabled=true,podDisruptionBudget.enabled=true,preStopSleepSeconds=0',
      ]),
    };
    for (const [what, objects] of Object.entries(renders)) {
      const pod = podSpec(objects) as unknown as SecurityPodSpec;
      assert.deepEqual(restrictedViolations(pod), [], what);
    }
  });

  it('prints NOTES.txt with the collector endpoint and how to reach the service', async (t) => {
    const ctx = setup(t);
    if (!ctx) return;
    const tag = valuesFile(ctx, 'tag', { image: { tag: '0.1.0-0123456789ab' } });
    const install = (release: string) =>
      run(ctx.helm, [
        'install',
        release,
        chartDir,
        '--namespace',
        'apps',
        '--dry-run=client',
        '-f',
        join(repoRoot, `values/${release}.yaml`),
        '-f',
        tag,
      ]);
    const gateway = (await install('api-gateway')).stdout;
    assert.match(gateway, /NOTES:/);
    assert.ok(gateway.includes('http://otel-agent.otel-agent.svc.cluster.local:4317'));
    assert.ok(gateway.includes('port 30080'));
    const users = (await install('user-service')).stdout;
    assert.ok(users.includes('port-forward service/user-service 8081:8081'));
  });

  it('keeps values.yaml and the schema in step (every default validates, every key is described)', (t) => {
    const values = readYaml('chart/values.yaml');
    const schema = readYaml<{ properties: Record<string, unknown> }>('chart/values.schema.json');
    for (const key of Object.keys(values)) {
      assert.ok(key in schema.properties, `values.yaml key ${key} has no schema`);
    }
    t.diagnostic(`${Object.keys(values).length} top-level values, all in values.schema.json`);
  });
});
