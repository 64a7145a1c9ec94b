// The Pod Security evaluator of the tests (test/support/pod-security.ts, the `pod-security` program
// built from k8s.io/pod-security-admission by scripts/install-tools.sh): it refuses the Pod Security
// Standards' known-bad settings at the right level with the admission controller's own reasons, reads
// workloads' pod templates from JSON and YAML, and admits the pods of chart/ at "restricted".
// Needs pod-security and helm (scripts/install-tools.sh pod-security helm): under CI=true a missing
// one fails the test.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  baselineViolations,
  evaluate,
  restrictedPod,
  restrictedViolations,
  strictestLevel,
  type Forbidden,
  type PodChange,
  type PodSpec,
} from '../support/pod-security.ts';
import { findTool, inCI, requireTool } from '../support/tools.ts';
import { repoRoot } from '../support/versions.ts';

const run = promisify(execFile);

/** The one forbidden check of `pod` at `level` (its reason and detail). */
function only(pod: PodSpec, level: 'baseline' | 'restricted'): Forbidden {
  const [evaluation] = evaluate([{ kind: 'Pod', metadata: { name: 'p' }, spec: pod }]);
  assert.ok(evaluation);
  const found = evaluation.levels[level];
  assert.equal(found.length, 1, JSON.stringify(found));
  return found[0] as Forbidden;
}

// Outside CI a machine without the program skips the file, with the command that builds it.
const missing =
  !inCI &&
  !findTool('pod-security') &&
  "pod-security not built: run 'bash scripts/install-tools.sh pod-security'";

describe('the Pod Security evaluator', { skip: missing }, () => {
  it('admits a restricted pod at every level', () => {
    assert.equal(strictestLevel(restrictedPod()), 'restricted');
    assert.deepEqual(restrictedViolations(restrictedPod()), []);
  });

  it('refuses at baseline (and so at restricted) what the baseline profile forbids', () => {
    const cases: [string, PodChange, Forbidden][] = [
      [
        'hostPath volume',
        { volume: { name: 'host', hostPath: { path: '/var/log' } } },
        { reason: 'hostPath volumes', detail: 'volume "host"' },
      ],
      [
        'privileged container',
        { container: { privileged: true } },
        {
          reason: 'privileged',
          detail: 'container "app" must not set securityContext.privileged=true',
        },
      ],
      [
        'host network',
        { spec: { hostNetwork: true } },
        { reason: 'host namespaces', detail: 'hostNetwork=true' },
      ],
      [
        'host PID',
        { spec: { hostPID: true } },
        { reason: 'host namespaces', detail: 'hostPID=true' },
      ],
      [
        'seccomp Unconfined',
        { pod: { seccompProfile: { type: 'Unconfined' } } },
        {
          reason: 'seccompProfile',
          detail: 'pod must not set securityContext.seccompProfile.type to "Unconfined"',
        },
      ],
      [
        'unsafe sysctl',
        { pod: { sysctls: [{ name: 'kernel.msgmax', value: '1' }] } },
        { reason: 'forbidden sysctls', detail: 'kernel.msgmax' },
      ],
      [
        'unmasked /proc',
        { container: { procMount: 'Unmasked' } },
        {
          reason: 'procMount',
          detail: 'container "app" must not set securityContext.procMount to "Unmasked"',
        },
      ],
    ];
    for (const [what, change, expected] of cases) {
      const pod = restrictedPod(change);
      assert.deepEqual(only(pod, 'baseline'), expected, what);
      assert.equal(strictestLevel(pod), 'privileged', what);
      assert.ok(restrictedViolations(pod).length > 0, what);
    }
  });

  it('tells a baseline capability from one that only privileged allows', () => {
    const sysAdmin = restrictedPod({
      container: { capabilities: { drop: ['ALL'], add: ['SYS_ADMIN'] } },
    });
    assert.deepEqual(only(sysAdmin, 'baseline'), {
      reason: 'non-default capabilities',
      detail: 'container "app" must not include "SYS_ADMIN" in securityContext.capabilities.add',
    });
    // CHOWN is in the baseline set: only restricted (NET_BIND_SERVICE alone) refuses it.
    const chown = restrictedPod({ container: { capabilities: { drop: ['ALL'], add: ['CHOWN'] } } });
    assert.deepEqual(baselineViolations(chown), []);
    assert.deepEqual(only(chown, 'restricted'), {
      reason: 'unrestricted capabilities',
      detail: 'container "app" must not include "CHOWN" in securityContext.capabilities.add',
    });
    const netBind = restrictedPod({
      container: { capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } },
    });
    assert.equal(strictestLevel(netBind), 'restricted');
  });

  it('refuses at restricted only what the restricted profile adds', () => {
    const cases: [string, PodChange, Forbidden][] = [
      [
        'runAsNonRoot unset',
        { pod: { runAsNonRoot: undefined } },
        {
          reason: 'runAsNonRoot != true',
          detail: 'pod or container "app" must set securityContext.runAsNonRoot=true',
        },
      ],
      [
        'runAsNonRoot false',
        { container: { runAsNonRoot: false } },
        {
          reason: 'runAsNonRoot != true',
          detail: 'container "app" must not set securityContext.runAsNonRoot=false',
        },
      ],
      [
        'root user',
        { container: { runAsUser: 0 } },
        { reason: 'runAsUser=0', detail: 'container "app" must not set runAsUser=0' },
      ],
      [
        'no seccomp profile',
        { pod: { seccompProfile: undefined } },
        {
          reason: 'seccompProfile',
          detail:
            'pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"',
        },
      ],
      [
        'capabilities kept',
        { container: { capabilities: {} } },
        {
          reason: 'unrestricted capabilities',
          detail: 'container "app" must set securityContext.capabilities.drop=["ALL"]',
        },
      ],
      [
        'privilege escalation',
        { container: { allowPrivilegeEscalation: true } },
        {
          reason: 'allowPrivilegeEscalation != false',
          detail: 'container "app" must set securityContext.allowPrivilegeEscalation=false',
        },
      ],
      [
        'a node-bound volume type',
        { volume: { name: 'disk', gcePersistentDisk: { pdName: 'd' } } },
        {
          reason: 'restricted volume types',
          detail: 'volume "disk" uses restricted volume type "gcePersistentDisk"',
        },
      ],
    ];
    for (const [what, change, expected] of cases) {
      const pod = restrictedPod(change);
      assert.deepEqual(baselineViolations(pod), [], what);
      assert.deepEqual(only(pod, 'restricted'), expected, what);
      assert.equal(strictestLevel(pod), 'baseline', what);
    }
  });

  it('applies the policies of the version asked for (user namespaces relax root from v1.35 on)', () => {
    const userNamespace = {
      kind: 'Pod',
      spec: restrictedPod({ pod: { runAsNonRoot: undefined }, spec: { hostUsers: false } }),
    };
    const [latest] = evaluate([userNamespace]);
    const [v134] = evaluate([userNamespace], { version: 'v1.34' });
    assert.deepEqual(latest?.levels.restricted, []);
    assert.deepEqual(
      v134?.levels.restricted.map((f) => f.reason),
      ['runAsNonRoot != true'],
    );
  });

  it('reads pod templates of workloads from YAML, skips objects without one, refuses unknown fields', (t) => {
    const program = requireTool('pod-security', t);
    if (!program) return;
    const spec = JSON.stringify(restrictedPod({ spec: { hostIPC: true } }));
    const yaml = [
      `kind: ConfigMap\nmetadata: {name: c}`,
      `kind: Deployment\nmetadata: {name: d, namespace: apps}\nspec: {template: {spec: ${spec}}}`,
      `kind: CronJob\nmetadata: {name: j}\nspec: {jobTemplate: {spec: {template: {spec: ${spec}}}}}`,
    ].join('\n---\n');
    const evaluations = JSON.parse(
      execFileSync(program, [], { input: yaml, encoding: 'utf8' }),
    ) as {
      kind: string;
      name: string;
      namespace?: string;
      index: number;
      levels: { baseline: Forbidden[] };
    }[];
    assert.deepEqual(
      evaluations.map((e) => [e.kind, e.name, e.namespace, e.index, e.levels.baseline]),
      [
        ['Deployment', 'd', 'apps', 1, [{ reason: 'host namespaces', detail: 'hostIPC=true' }]],
        ['CronJob', 'j', undefined, 2, [{ reason: 'host namespaces', detail: 'hostIPC=true' }]],
      ],
    );
    // A misspelt field would otherwise be dropped, and the pod judged without it.
    assert.throws(
      () => evaluate([{ kind: 'Pod', spec: { containers: [{ name: 'a', securityContex: {} }] } }]),
      /unknown field "securityContex"/,
    );
  });

  it('admits every pod that chart/ renders at "restricted" (defaults and both releases)', async (t) => {
    const helm = requireTool('helm', t);
    const program = requireTool('pod-security', t);
    if (!helm || !program) return;
    const renders = [
      ['x', []],
      ['api-gateway', ['-f', join(repoRoot, 'values/api-gateway.yaml')]],
      ['user-service', ['-f', join(repoRoot, 'values/user-service.yaml')]],
    ] as const;
    for (const [release, args] of renders) {
      const chart = join(repoRoot, 'chart');
      const { stdout } = await run(helm, [
        'template',
        release,
        chart,
        '--namespace',
        'apps',
        ...args,
      ]);
      // The YAML stream as helm prints it, read by the evaluator itself.
      const evaluations = JSON.parse(
        execFileSync(program, [], { input: stdout, encoding: 'utf8' }),
      ) as { kind: string; levels: { baseline: Forbidden[]; restricted: Forbidden[] } }[];
      assert.deepEqual(
        evaluations.map((e) => [e.kind, e.levels]),
        [['Deployment', { baseline: [], restricted: [] }]],
        release,
      );
    }
  });
});
