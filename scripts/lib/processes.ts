// Child process management for tests and scripts that run programs as local processes: free ports,
// start a program in its own process group, keep the tail of its output (and a log file), wait until
// an HTTP readiness URL answers, and stop it (SIGTERM to the whole group, SIGKILL after a grace
// period). Nothing outlives the Node process that started it: an exit hook kills what is left.
// The one kill strategy of the project's supervisors: every child leads its own process group, and
// the group is what gets killed (npm -> sh -> node, for example), so no grandchild is left behind.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export { freePorts } from './free-ports.ts';

export interface ProcessSpec {
  /** Short name used in messages and log file names. */
  name: string;
  command: string;
  args: string[];
  /** Added to (and overriding) the parent's environment. */
  env?: Record<string, string>;
  cwd?: string;
  /** GET this URL until it answers 2xx; omit for no readiness check. */
  readyUrl?: string;
  /** Copy of all output (stdout and stderr) to this file. */
  logFile?: string;
  /** Default time between SIGTERM and SIGKILL for stop() (10s). */
  stopGraceMs?: number;
}

export interface ManagedProcess {
  readonly spec: ProcessSpec;
  readonly pid: number;
  /** Resolves with the exit code (or the signal name) when the process has exited. */
  readonly exited: Promise<number | string>;
  /** Exit code or signal once exited, undefined while running. */
  exitStatus(): number | string | undefined;
  /** The last lines of output (stdout and stderr interleaved). */
  tail(lines?: number): string;
  /**
   * SIGTERM to the process group, SIGKILL after graceMs (default spec.stopGraceMs, else 10s);
   * resolves when the process has exited.
   */
  stop(graceMs?: number): Promise<void>;
}

const TAIL_LINES = 200;
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort when the parent exits without stopping its children (a failed test, an exception):
  // synchronously SIGKILL every process group still running.
  process.on('exit', () => {
    for (const child of running) killGroup(child, 'SIGKILL');
  });
}

/** Signals the process group `target` leads; the process alone when it leads none. */
export function killGroup(target: ChildProcess | number | undefined, signal: NodeJS.Signals): void {
  const pid = typeof target === 'number' ? target : target?.pid;
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      // A ChildProcess knows whether it exited, a bare pid may be reused: only signal it as given.
      if (typeof target === 'number') process.kill(pid, signal);
      else target?.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** Spawns `command` as the leader of a new process group, SIGKILLed with it at exit if still running. */
export function spawnInGroup(
  command: string,
  args: readonly string[],
  options: Omit<SpawnOptions, 'detached'>,
): ChildProcess {
  installExitHook();
  const child = spawn(command, args, { ...options, detached: true });
  running.add(child);
  child.once('close', () => running.delete(child));
  child.once('error', () => running.delete(child));
  return child;
}

/** Starts a program in its own process group. Throws when it cannot be spawned at all. */
export async function startProcess(spec: ProcessSpec): Promise<ManagedProcess> {
  const child = spawnInGroup(spec.command, spec.args, {
    cwd: spec.cwd,
    env: { ...process.env, ...spec.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err) =>
      reject(new Error(`${spec.name}: cannot start ${spec.command}: ${err.message}`)),
    );
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${spec.name}: no pid after spawn`);

  const lines: string[] = [];
  let partial = '';
  let log: WriteStream | undefined;
  if (spec.logFile) log = createWriteStream(spec.logFile, { flags: 'a' });
  const onData = (chunk: Buffer): void => {
    log?.write(chunk);
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    if (lines.length > TAIL_LINES) lines.splice(0, lines.length - TAIL_LINES);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);

  let status: number | string | undefined;
  const exited = new Promise<number | string>((resolve) => {
    child.once('close', (code, signal) => {
      status = code ?? signal ?? 'unknown';
      log?.end();
      resolve(status);
    });
  });

  const tail = (n = 40): string => [...lines, ...(partial ? [partial] : [])].slice(-n).join('\n');

  const stop = async (graceMs = spec.stopGraceMs ?? 10_000): Promise<void> => {
    if (status !== undefined) return;
    killGroup(child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
    // The leader is gone; make sure no member of its group is left behind.
    killGroup(child, 'SIGKILL');
  };

  return { spec, pid, exited, exitStatus: () => status, tail, stop };
}

/** Error with the process's last output, for a process that exited when it should not have. */
export function deathError(proc: ManagedProcess, when: string): Error {
  return new Error(
    `${proc.spec.name} exited (${String(proc.exitStatus())}) ${when}; last output:\n${proc.tail()}`,
  );
}

/**
 * Polls proc.spec.readyUrl until it answers 2xx. Fails early, with the process's last output, when
 * the process exits; fails with the last answer when timeoutMs passes.
 */
export async function waitUntilReady(proc: ManagedProcess, timeoutMs = 60_000): Promise<void> {
  const url = proc.spec.readyUrl;
  if (!url) return;
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (proc.exitStatus() !== undefined) throw deathError(proc, `before ${url} was ready`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      const body = (await res.text()).trim().slice(0, 200);
      if (res.ok) return;
      last = `HTTP ${res.status}: ${body}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await sleep(250);
  }
  throw new Error(
    `${proc.spec.name} not ready after ${timeoutMs}ms at ${url} (${last}); last output:\n${proc.tail()}`,
  );
}

/** Starts a process and waits for its readiness URL; stops it again when it does not get ready. */
export async function startAndWait(spec: ProcessSpec, timeoutMs?: number): Promise<ManagedProcess> {
  const proc = await startProcess(spec);
  try {
    await waitUntilReady(proc, timeoutMs);
  } catch (err) {
    await proc.stop(2_000);
    throw err;
  }
  return proc;
}
