// The local Kubernetes control plane of scripts/control-plane.sh, for tests: started on free ports (or
// NOS_CONTROL_PLANE_PORT) in a temporary directory, commands run against it with its kubeconfig, and
// stopped again. Everything is a real program: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, kwok, kubectl, helm, helmfile.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePorts } from '../../scripts/lib/processes.ts';
import { toolBinDir } from './tools.ts';
import { repoRoot } from './versions.ts';

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to its end (never throws for a non-zero exit); `input` goes to its stdin. A command
 * still running after `timeoutMs` is killed and reported as failed: a safety net against a hung
 * test, as in `until`, not a time bound on the behaviour.
 */
export function exec(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string; timeoutMs?: number } = {},
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd ?? repoRoot,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timeoutMs = options.timeoutMs ?? 600_000;
    const timer = setTimeout(() => {
      stderr += `\n${command} killed: still running after ${timeoutMs} ms`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** The control plane's programs, as scripts/control-plane.sh names them. */
export const controlPlanePrograms = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kwok',
] as const;

/** The tools the control plane and the install path need (scripts/install-tools.sh). */
export const controlPlaneTools = ['etcd', 'kube-apiserver', 'kubectl', 'kwok', 'helm', 'helmfile'];

export const context = 'nos-control-plane';
export const nodeName = 'node-observability-stack-control-plane';

export class ControlPlane {
  readonly dir: string;
  readonly kubeconfig: string;
  /** The environment of every command: its kubeconfig and context, Helm's state in `dir`. */
  readonly env: NodeJS.ProcessEnv;

  private constructor(dir: string, env: NodeJS.ProcessEnv) {
    this.dir = dir;
    this.kubeconfig = join(dir, 'kubeconfig');
    this.env = { ...env, KUBECONFIG: join(dir, 'kubeconfig') };
  }

  /** Starts it; throws with the script's output when it does not come up. */
  static async start(): Promise<ControlPlane> {
    const dir = mkdtempSync(join(tmpdir(), 'nos-control-plane-'));
    const ports = process.env.NOS_CONTROL_PLANE_PORT
      ? {}
      : { NOS_CONTROL_PLANE_PORTS: (await freePorts(6)).join(',') };
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...ports,
      NOS_CONTROL_PLANE_DIR: dir,
      PATH: [toolBinDir, process.env.PATH ?? ''].join(delimiter),
      // Helm's plugins, repositories and cache: none of the user's.
      HELM_CONFIG_HOME: join(dir, 'helm', 'config'),
      HELM_CACHE_HOME: join(dir, 'helm', 'cache'),
      HELM_DATA_HOME: join(dir, 'helm', 'data'),
      HELMFILE_UPGRADE_NOTICE_DISABLED: '1',
    };
    const plane = new ControlPlane(dir, env);
    const started = await exec('bash', [join(repoRoot, 'scripts', 'control-plane.sh'), 'start'], {
      env,
    });
    if (started.code !== 0) {
      await plane.stop();
      plane.remove();
      throw new Error(
        `scripts/control-plane.sh start failed (${started.code}):\n${started.stderr}`,
      );
    }
    return plane;
  }

  kubectl(args: string[], input?: string): Promise<Result> {
    return exec('kubectl', ['--context', context, ...args], { env: this.env, input });
  }

  /** kubectl that must succeed; its stdout. */
  async kubectlOk(args: string[], input?: string): Promise<string> {
    const result = await this.kubectl(args, input);
    if (result.code !== 0) {
      throw new Error(`kubectl ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
    }
    return result.stdout;
  }

  /** `kubectl get ... -o json`, parsed. */
  async getJson<T>(args: string[]): Promise<T> {
    return JSON.parse(await this.kubectlOk(['get', ...args, '-o', 'json'])) as T;
  }

  /** Polls `check` until it returns a value (not undefined); fails with `what` if it never does. */
  async until<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
    let last: unknown;
    // A safety net against a hung test, not a time bound on the behaviour: ten minutes of polls.
    for (let i = 0; i < 1200; i++) {
      try {
        const value = await check();
        if (value !== undefined) return value;
      } catch (error) {
        last = error;
      }
      await sleep(500);
    }
    throw new Error(`never reached: ${what}${last ? ` (last error: ${String(last)})` : ''}`);
  }

  /** The pid of each program while it runs (scripts/control-plane.sh's pid files). */
  pids(): Map<string, number> {
    const pids = new Map<string, number>();
    for (const name of controlPlanePrograms) {
      try {
        pids.set(name, Number(readFileSync(join(this.dir, 'run', `${name}.pid`), 'utf8').trim()));
      } catch {
        // not started, or stopped
      }
    }
    return pids;
  }

  log(program: string): string {
    try {
      return readFileSync(join(this.dir, 'logs', `${program}.log`), 'utf8');
    } catch {
      return '';
    }
  }

  async stop(): Promise<Result> {
    return exec('bash', [join(repoRoot, 'scripts', 'control-plane.sh'), 'stop'], {
      env: { ...this.env, NOS_CONTROL_PLANE_DIR: this.dir },
    });
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** True while a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
