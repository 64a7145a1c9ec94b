// The Pod Security Standards' "baseline" and "restricted" profiles, checked on a pod spec the way the
// Pod Security admission controller evaluates them (latest version of the policies).
// Source of every rule: https://kubernetes.io/docs/concepts/security/pod-security-standards/
// Windows-only (hostProcess) and AppArmor-annotation rules are included; the field names follow the
// Pod API (core/v1).

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

// Capabilities that baseline allows to be added.
const BASELINE_CAPABILITIES = new Set([
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
]);
const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
]);
const SELINUX_TYPES = new Set([
  '',
  'container_t',
  'container_init_t',
  'container_kvm_t',
  'container_engine_t',
]);
// Volume types restricted allows (every other type, hostPath included, is refused).
const RESTRICTED_VOLUMES = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);
const SECCOMP_ALLOWED = new Set(['RuntimeDefault', 'Localhost']);

function allContainers(pod: PodSpec): Container[] {
  return [...(pod.initContainers ?? []), ...pod.containers, ...(pod.ephemeralContainers ?? [])];
}

function volumeType(volume: Record<string, unknown>): string | undefined {
  return Object.keys(volume).find((key) => key !== 'name');
}

/** Violations of the baseline profile, as "<where>: <what>" strings (empty: compliant). */
export function baselineViolations(pod: PodSpec): string[] {
  const found: string[] = [];
  const podContext = pod.securityContext ?? {};
  if (pod.hostNetwork) found.push('pod: hostNetwork');
  if (pod.hostPID) found.push('pod: hostPID');
  if (pod.hostIPC) found.push('pod: hostIPC');
  if (podContext.windowsOptions?.hostProcess) found.push('pod: hostProcess');
  if (podContext.seccompProfile?.type === 'Unconfined')
    found.push('pod: seccompProfile Unconfined');
  if (podContext.appArmorProfile?.type === 'Unconfined')
    found.push('pod: appArmorProfile Unconfined');
  checkSeLinux('pod', podContext, found);
  for (const sysctl of podContext.sysctls ?? []) {
    if (!SAFE_SYSCTLS.has(sysctl.name)) found.push(`pod: unsafe sysctl ${sysctl.name}`);
  }
  for (const volume of pod.volumes ?? []) {
    if (volumeType(volume) === 'hostPath') found.push(`volume ${String(volume.name)}: hostPath`);
  }
  for (const container of allContainers(pod)) {
    const where = `container ${container.name}`;
    const context = container.securityContext ?? {};
    if (context.privileged) found.push(`${where}: privileged`);
    if (context.windowsOptions?.hostProcess) found.push(`${where}: hostProcess`);
    for (const capability of context.capabilities?.add ?? []) {
      if (!BASELINE_CAPABILITIES.has(capability))
        found.push(`${where}: adds capability ${capability}`);
    }
    for (const port of container.ports ?? []) {
      if (port.hostPort) found.push(`${where}: hostPort ${port.hostPort}`);
    }
    if (context.procMount && context.procMount !== 'Default')
      found.push(`${where}: procMount ${context.procMount}`);
    if (context.seccompProfile?.type === 'Unconfined')
      found.push(`${where}: seccompProfile Unconfined`);
    if (context.appArmorProfile?.type === 'Unconfined')
      found.push(`${where}: appArmorProfile Unconfined`);
    checkSeLinux(where, context, found);
  }
  return found;
}

function checkSeLinux(where: string, context: SecurityContext, found: string[]): void {
  const options = context.seLinuxOptions;
  if (!options) return;
  if (!SELINUX_TYPES.has(options.type ?? ''))
    found.push(`${where}: seLinuxOptions.type ${options.type}`);
  if (options.user) found.push(`${where}: seLinuxOptions.user`);
  if (options.role) found.push(`${where}: seLinuxOptions.role`);
}

/** Violations of the restricted profile (baseline's included); empty: compliant. */
export function restrictedViolations(pod: PodSpec): string[] {
  const found = baselineViolations(pod);
  const podContext = pod.securityContext ?? {};
  for (const volume of pod.volumes ?? []) {
    const type = volumeType(volume);
    if (type && type !== 'hostPath' && !RESTRICTED_VOLUMES.has(type)) {
      found.push(`volume ${String(volume.name)}: type ${type}`);
    }
  }
  if (podContext.runAsUser === 0) found.push('pod: runAsUser 0');
  const podSeccomp = podContext.seccompProfile?.type;
  if (podSeccomp !== undefined && !SECCOMP_ALLOWED.has(podSeccomp)) {
    found.push(`pod: seccompProfile ${podSeccomp}`);
  }
  for (const container of allContainers(pod)) {
    const where = `container ${container.name}`;
    const context = container.securityContext ?? {};
    if (context.allowPrivilegeEscalation !== false) {
      found.push(`${where}: allowPrivilegeEscalation is not false`);
    }
    // runAsNonRoot: true on the pod, or on every container; never false on a container.
    if (
      context.runAsNonRoot === false ||
      (context.runAsNonRoot !== true && podContext.runAsNonRoot !== true)
    ) {
      found.push(`${where}: runAsNonRoot is not true`);
    }
    if (context.runAsUser === 0) found.push(`${where}: runAsUser 0`);
    // seccompProfile RuntimeDefault or Localhost on the pod, or on every container.
    const seccomp = context.seccompProfile?.type ?? podSeccomp;
    if (!seccomp || !SECCOMP_ALLOWED.has(seccomp)) {
      found.push(`${where}: seccompProfile is not RuntimeDefault or Localhost`);
    }
    if (!(context.capabilities?.drop ?? []).includes('ALL')) {
      found.push(`${where}: capabilities do not drop ALL`);
    }
    for (const capability of context.capabilities?.add ?? []) {
      if (capability !== 'NET_BIND_SERVICE') found.push(`${where}: adds capability ${capability}`);
    }
  }
  return found;
}

/** The strictest level whose rules the pod meets. */
export function strictestLevel(pod: PodSpec): Level {
  if (restrictedViolations(pod).length === 0) return 'restricted';
  if (baselineViolations(pod).length === 0) return 'baseline';
  return 'privileged';
}
