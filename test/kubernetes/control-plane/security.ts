// What the API server refuses and grants: a pod like the collector agent in a restricted namespace,
// the security values the chart's schema rejects, and the service accounts' RBAC (kubectl auth can-i).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { exec } from '../../support/control-plane.ts';
import { readYaml, type Yaml } from '../../support/kind-stack.ts';
import { requireTool } from '../../support/tools.ts';
import { pinnedVersion, repoRoot } from '../../support/versions.ts';
import {
  canI,
  cluster,
  grantAgentRole,
  namespace,
  rolledOut,
  warnings,
  type K8sObject,
} from './cluster.ts';

export function securityTests(): void {
  it('refuses a pod like the collector agent (hostPath, uid 0) in a restricted namespace', async (t) => {
    const cp = cluster(t);
    if (!cp) return;
    // The agent's own settings (values/otel-agent.yaml): its container security context and its
    // hostPath volumes; what its namespace's "privileged" level exists for.
    const agent = readYaml('values/otel-agent.yaml');
    const volumes = (agent.extraVolumes as Yaml[]).filter((v) => v.hostPath);
    const mounts = (agent.extraVolumeMounts as Yaml[]).filter((m) =>
      volumes.some((v) => v.name === m.name),
    );
    assert.ok(volumes.length >= 2, 'the agent has hostPath volumes');
    const pod = (ns: string) =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'agent-like', namespace: ns },
        spec: {
          containers: [
            {
              name: 'agent',
              image: `otel/opentelemetry-collector-contrib:${pinnedVersion('OTELCOL_VERSION')}`,
              securityContext: agent.securityContext,
              volumeMounts: mounts,
            },
          ],
          volumes,
        },
      });
    const refused = await cp.kubectl(['apply', '-f', '-'], pod(namespace));
    assert.notEqual(refused.code, 0, 'refused in apps');
    assert.match(refused.stderr, /violates PodSecurity "restricted:latest"/);
    assert.match(
      refused.stderr,
      /restricted volume types \(volumes .* use restricted volume type "hostPath"\)/,
    );
    assert.match(refused.stderr, /runAsNonRoot != true|runAsUser=0/);
    t.diagnostic(`refused: ${refused.stderr.trim()}`);
    // The same pod where its level is "privileged" (otel-agent): admitted.
    const admitted = await cp.kubectl(['apply', '--dry-run=server', '-f', '-'], pod('otel-agent'));
    assert.equal(admitted.code, 0, admitted.stderr);
    assert.deepEqual(warnings(admitted.stderr), []);
  });

  it('refuses on the API server the security values that the chart schema rejects', async (t) => {
    const cp = cluster(t);
    if (!cp) return;
    const helm = requireTool('helm') as string;
    // Values that helm template accepted before values.schema.json closed both security contexts.
    const bad: [string, string[], RegExp][] = [
      ['typo', ['--set', 'securityContext.readOnlyRootFileSystem=true'], /unknown field/],
      ['typo', ['--set', 'podSecurityContext.runAsGroupp=1000'], /unknown field/],
      [
        'sysctl',
        [
          '--set',
          'podSecurityContext.sysctls[0].name=kernel.msgmax',
          '--set-string',
          'podSecurityContext.sysctls[0].value=1',
        ],
        /forbidden sysctls/,
      ],
      [
        'AppArmor',
        ['--set', 'securityContext.appArmorProfile.type=Unconfined'],
        /forbidden AppArmor profile/,
      ],
      ['SELinux', ['--set', 'securityContext.seLinuxOptions.type=spc_t'], /seLinuxOptions/],
      ['procMount', ['--set', 'securityContext.procMount=Unmasked'], /procMount|Unmasked/],
      [
        'hostProcess',
        ['--set', 'securityContext.windowsOptions.hostProcess=true'],
        /hostProcess|windowsOptions/,
      ],
    ];
    for (const [what, values, refusal] of bad) {
      const value = values.join(' ');
      const args = ['template', 'x', join(repoRoot, 'chart'), '--namespace', namespace, ...values];
      const schema = await exec(helm, args, { env: cp.env });
      assert.notEqual(schema.code, 0, `${what} (${value}): the schema rejects it`);
      const unchecked = await exec(helm, [...args, '--skip-schema-validation'], { env: cp.env });
      assert.equal(unchecked.code, 0, unchecked.stderr);
      const deployment = parseAllDocuments(unchecked.stdout)
        .map((d) => d.toJS() as K8sObject | null)
        .find((o) => o?.kind === 'Deployment') as K8sObject & {
        spec: { template: { metadata: Yaml; spec: Yaml } };
      };
      // The pod its ReplicaSet would create (under an account that exists: the release is not
      // installed), sent as the controller would send it.
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { ...deployment.spec.template.metadata, name: 'schema-check', namespace },
        spec: { ...deployment.spec.template.spec, serviceAccountName: 'default' },
      };
      const result = await cp.kubectl(
        ['create', '--dry-run=server', '--validate=strict', '-f', '-'],
        JSON.stringify(pod),
      );
      assert.notEqual(result.code, 0, `${what} (${value}): the API server refuses the pod`);
      assert.match(result.stderr, refusal, `${what} (${value})`);
      t.diagnostic(`${value}: ${result.stderr.trim()}`);
    }
  });

  it('grants the service accounts exactly what the repository defines (kubectl auth can-i --as)', async (t) => {
    const cp = cluster(t);
    if (!cp) return;
    // The services' own accounts: no token mounted, no rights.
    const deployments = await rolledOut(cp);
    for (const [deployment, pods] of deployments) {
      for (const pod of pods) {
        assert.equal(pod.spec.automountServiceAccountToken, false);
        assert.ok(
          !(pod.spec.volumes ?? []).some((v) => v.projected),
          `${pod.metadata.name}: no token volume`,
        );
        const as = `system:serviceaccount:${namespace}:${pod.spec.serviceAccountName}`;
        for (const [verb, resource] of [
          ['get', 'pods'],
          ['list', 'secrets'],
          ['get', 'configmaps'],
          ['create', 'pods'],
          ['list', 'services'],
        ] as const) {
          assert.equal(
            await canI(cp, as, verb, resource, namespace),
            false,
            `${as} ${verb} ${resource}`,
          );
        }
        assert.equal(pod.spec.serviceAccountName, deployment.metadata.name);
      }
    }

    // The collector agent's ClusterRole, from values/otel-agent.yaml, bound to its ServiceAccount as
    // the chart binds it (the chart itself cannot be downloaded here).
    await grantAgentRole(cp);
    const agent = 'system:serviceaccount:otel-agent:otel-agent';
    for (const [verb, resource] of [
      ['get', 'pods'],
      ['list', 'pods'],
      ['watch', 'pods'],
      ['watch', 'namespaces'],
      ['list', 'replicasets.apps'],
    ] as const) {
      assert.equal(await canI(cp, agent, verb, resource), true, `agent may ${verb} ${resource}`);
    }
    for (const [verb, resource] of [
      ['create', 'pods'],
      ['delete', 'pods'],
      ['patch', 'pods'],
      ['list', 'secrets'],
      ['list', 'nodes'],
      ['list', 'deployments.apps'],
      ['update', 'replicasets.apps'],
    ] as const) {
      assert.equal(
        await canI(cp, agent, verb, resource),
        false,
        `agent may not ${verb} ${resource}`,
      );
    }
  });
}
