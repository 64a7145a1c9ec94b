// The benchmark's processes: started with stdout discarded (as fast as a log pipe can be) and
// stderr kept in a file of the run's work directory; SIGKILLed and the directory removed at exit.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Launched {
  child: ChildProcess;
  exited: Promise<number | string>;
  stderr(): string;
}

const work = mkdtempSync(join(tmpdir(), 'nos-bench-'));
/** Every process of the run still running, the sink collector included. */
export const children = new Set<ChildProcess>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

export function launch(
  name: string,
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
): Launched {
  const stderrFile = join(work, `${name}.stderr`);
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_') && !k.startsWith('npm_')),
  );
  const child = spawn(command, args, {
    cwd,
    // The start command runs `node` from PATH: this Node.
    env: { ...base, PATH: `${dirname(process.execPath)}:${base.PATH ?? ''}`, ...env },
    stdio: ['ignore', 'ignore', openSync(stderrFile, 'a')],
  });
  children.add(child);
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve(code ?? signal ?? 'unknown');
    }),
  );
  return { child, exited, stderr: () => readFileSync(stderrFile, 'utf8').slice(-2000) };
}

export async function waitReady(proc: Launched, url: string, name: string): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`${name} exited: ${proc.stderr()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(10);
  }
  throw new Error(`${name} not ready within 60 s: ${proc.stderr()}`);
}
