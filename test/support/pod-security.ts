// The Pod Security Standards' "baseline" and "restricted" profiles, checked on a pod spec by the Pod
// Security admission controller's own evaluator (k8s.io/pod-security-admission, latest version of the
// policies), which scripts/install-tools.sh builds as the `pod-security` program. A violation reads
// as the admission controller words it: "<reason>: <detail>", e.g.
// 'hostPath volumes: volumes "pod-logs", "queue"'.
// Without the program every call throws, with the command that builds it.
import { execFileSync } from 'node:child_process';
import { requireTool } from './tools.ts';

export type Level = 'privileged' | 'baseline' | 'restricted';

interface SecurityContext {
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  runAsNonRoot?: boolean;
  runAsUser?: number;
  capabilities?: { add?: string[]; drop?: string[] };
  seccompProfile?: { type?: string };
  appArmorProfile?: { type?: string };
  seLinuxOptions?: { type?: string; user?: string; role?: string };
  procMount?: string;
  windowsOptions?: { hostProcess?: boolean };
}

interface Container {
  name: string;
  securityContext?: SecurityContext;
  ports?: { hostPort?: number }[];
}

/** The fields of a core/v1 PodSpec that the checks read (the evaluator takes any valid PodSpec). */
export interface PodSpec {
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  securityContext?: SecurityContext & { sysctls?: { name: string }[] };
  containers: Container[];
  initContainers?: Container[];
  ephemeralContainers?: Container[];
  volumes?: Record<string, unknown>[];
}

/** One check that forbids an object at a level, in the admission controller's words. */
export interface Forbidden {
  reason: string;
  detail?: string;
}

/** The evaluation of one object that carries a pod spec (Pod, PodTemplate, workload, CronJob). */
export interface Evaluation {
  kind: string;
  namespace?: string;
  name?: string;
  /** Position of the object among those given (items of a List counted one by one). */
  index: number;
  levels: { baseline: Forbidden[]; restricted: Forbidden[] };
}

/**
 * Evaluates Kubernetes objects (as parsed from JSON or YAML) at baseline and restricted, with the
 * policies of `version` ("latest" or "v1.N"). Objects without a pod spec (a ConfigMap, a Service...)
 * give no evaluation.
 */
export function evaluate(
  objects: readonly unknown[],
  options: { version?: string } = {},
): Evaluation[] {
  const program = requireTool('pod-security');
  if (!program) throw new Error('pod-security is not installed');
  const output = execFileSync(program, ['-version', options.version ?? 'latest'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
    encoding: 'utf8',
    // Its complaints (an unknown field...) go into the error thrown, not onto the test's output.
    stdio: ['pipe', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(output) as Evaluation[];
}

// The callers ask several questions about the same pod: one run of the evaluator per pod.
const evaluated = new Map<string, Evaluation['levels']>();

function levelsOf(pod: PodSpec): Evaluation['levels'] {
  const key = JSON.stringify(pod);
  let levels = evaluated.get(key);
  if (!levels) {
    const [evaluation] = evaluate([{ apiVersion: 'v1', kind: 'Pod', spec: pod }]);
    if (!evaluation) throw new Error('pod-security returned no evaluation for a Pod');
    levels = evaluation.levels;
    evaluated.set(key, levels);
  }
  return levels;
}

const words = (found: Forbidden[]): string[] =>
  found.map(({ reason, detail }) => (detail ? `${reason}: ${detail}` : reason));

/** Violations of the baseline profile, as "<reason>: <detail>" strings (empty: compliant). */
export function baselineViolations(pod: PodSpec): string[] {
  return words(levelsOf(pod).baseline);
}

/** Violations of the restricted profile (baseline's included); empty: compliant. */
export function restrictedViolations(pod: PodSpec): string[] {
  return words(levelsOf(pod).restricted);
}

/** The strictest level whose rules the pod meets. */
export function strictestLevel(pod: PodSpec): Level {
  const levels = levelsOf(pod);
  if (levels.restricted.length === 0) return 'restricted';
  if (levels.baseline.length === 0) return 'baseline';
  return 'privileged';
}

/** One change to a pod's or its container's security context, its spec, or one more volume. */
export interface PodChange {
  pod?: object;
  container?: object;
  spec?: object;
  volume?: object;
}

/** A pod that "restricted" admits, with `change` applied: the tests' baseline for one violation. */
export const restrictedPod = (change: PodChange = {}): PodSpec =>
  ({
    securityContext: {
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
      ...change.pod,
    },
    containers: [
      {
        name: 'app',
        securityContext: {
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
          ...change.container,
        },
      },
    ],
    volumes: [{ name: 'tmp', emptyDir: {} }, ...(change.volume ? [change.volume] : [])],
    ...change.spec,
  }) as PodSpec;
