// docker-compose.yaml brought up for real by the compose CLI (docker-compose, from the tool cache) on the
// local Docker engine, with the test-only override of test/support/compose-override.ts: the images of
// scripts/build-images.sh, and recording stand-ins for Grafana, Loki and Tempo that write what they
// receive to `recordsDir`. `down()` removes the project's containers, networks and volumes. The engine is asked through its API on /var/run/docker.sock.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { composeFile, overrideYaml } from './compose-override.ts';
import { repoRoot } from './versions.ts';

// Debian's engine has no BuildKit: the classic builder.
const classicBuilder = { DOCKER_BUILDKIT: '0', COMPOSE_BAKE: 'false' };

/** Runs a command from the repository root with extra environment, collecting its output whatever its
 * exit code (killed after timeoutMs). */
export function collect(
  command: string,
  args: string[],
  extraEnv: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: repoRoot,
      env: { ...process.env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({
        status,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

export const dockerSocket = process.env.NOS_DOCKER_SOCKET ?? '/var/run/docker.sock';

/** GET on the engine API (unix socket); parsed JSON. */
export function engineGet<T>(path: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: dockerSocket, path, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 0) >= 300)
          reject(new Error(`engine GET ${path}: ${res.statusCode} ${text}`));
        else resolve(JSON.parse(text) as T);
      });
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`engine GET ${path}: timeout`)));
    req.end();
  });
}

/** Whether an engine answers on the socket. */
export async function engineAnswers(): Promise<boolean> {
  try {
    await engineGet('/version');
    return true;
  } catch {
    return false;
  }
}

/** The parts of GET /containers/{id}/json the tests read. */
export interface ContainerInfo {
  Id: string;
  Name: string;
  Config: { User: string; Image: string; Labels: Record<string, string> };
  State: { Status: string; ExitCode: number; Health?: { Status: string } };
  HostConfig: {
    ReadonlyRootfs: boolean;
    CapAdd: string[] | null;
    CapDrop: string[] | null;
    NetworkMode: string;
    PortBindings: Record<string, { HostIp: string; HostPort: string }[] | null> | null;
  };
  NetworkSettings: { Ports: Record<string, { HostIp: string; HostPort: string }[] | null> };
}

/** Resolves when nothing listens on 127.0.0.1:port, rejects with who to blame otherwise. */
export function assertPortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error) =>
      reject(
        new Error(
          `127.0.0.1:${port} is in use, and docker-compose.yaml binds it: stop what listens there (${String(error)})`,
        ),
      ),
    );
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export class ComposeStack {
  // One fixed project name: the file binds fixed host ports, so two runs cannot share a machine anyway,
  // and the services' images (<project>-<service>) and their build cache stay for the next run.
  readonly project = process.env.NOS_COMPOSE_PROJECT ?? 'nos-e2e';
  readonly dir = mkdtempSync(join(tmpdir(), 'nos-compose-'));
  readonly recordsDir = join(this.dir, 'records');
  readonly overridePath = join(this.dir, 'override.yaml');
  readonly composeBin: string;

  constructor(composeBin: string) {
    this.composeBin = composeBin;
    mkdirSync(this.recordsDir);
    // The stand-ins run as the collector image's user (10001) and write here.
    chmodSync(this.recordsDir, 0o777);
    writeFileSync(this.overridePath, overrideYaml(this.recordsDir));
  }

  /** `docker-compose --env-file versions.env -p <project> -f docker-compose.yaml -f <override> ...args`. */
  run(args: string[], timeoutMs = 600_000): Promise<RunResult> {
    const pins = ['--env-file', join(repoRoot, 'versions.env')];
    return collect(
      this.composeBin,
      [...pins, '-p', this.project, '-f', composeFile, '-f', this.overridePath, ...args],
      // Required by the base file (no default on purpose); the stand-in does not read it.
      { ...classicBuilder, GRAFANA_ADMIN_PASSWORD: 'compose-e2e' },
      timeoutMs,
    );
  }

  /**
   * The README's quick start, `bash scripts/compose-up.sh ...args`, on this project and override
   * (through Compose's own COMPOSE_FILE and COMPOSE_PROJECT_NAME) and with no Grafana password in the
   * environment, so the script finds or writes it in the repository's git-ignored .env.
   */
  quickStart(args: string[], timeoutMs = 600_000): Promise<RunResult> {
    const env: NodeJS.ProcessEnv = {
      ...classicBuilder,
      COMPOSE_FILE: [composeFile, this.overridePath].join(':'),
      COMPOSE_PROJECT_NAME: this.project,
      // The compose CLI of the tool cache, where no `docker compose` plugin is installed.
      PATH: `${dirname(this.composeBin)}:${process.env.PATH ?? ''}`,
      GRAFANA_ADMIN_PASSWORD: undefined,
    };
    return collect('bash', [join(repoRoot, 'scripts', 'compose-up.sh'), ...args], env, timeoutMs);
  }

  /** run(), throwing with the output when the command fails. */
  async must(args: string[], timeoutMs?: number): Promise<string> {
    const result = await this.run(args, timeoutMs);
    if (result.status !== 0) {
      throw new Error(
        `docker-compose ${args.join(' ')} exited ${result.status}:\n${result.stderr.slice(-4000)}\n${result.stdout.slice(-2000)}`,
      );
    }
    return result.stdout;
  }

  /** The project's containers (all states), by compose service name. */
  async containers(): Promise<Map<string, ContainerInfo>> {
    const filters = encodeURIComponent(
      JSON.stringify({ label: [`com.docker.compose.project=${this.project}`] }),
    );
    const list = await engineGet<{ Id: string; Labels: Record<string, string> }[]>(
      `/containers/json?all=1&filters=${filters}`,
    );
    const result = new Map<string, ContainerInfo>();
    for (const c of list) {
      // One-off `run` containers are not the services'.
      if (c.Labels['com.docker.compose.oneoff'] === 'True') continue;
      const service = c.Labels['com.docker.compose.service'] ?? c.Id;
      result.set(service, await engineGet<ContainerInfo>(`/containers/${c.Id}/json`));
    }
    return result;
  }

  /** A service's stdout lines (its log records). */
  async stdout(service: string): Promise<string[]> {
    const out = await this.must(['logs', '--no-color', '--no-log-prefix', service], 60_000);
    return out.split('\n').filter(Boolean);
  }

  /** Lines of a file a stand-in wrote (OTLP JSON export requests, one per line). */
  records(file: string): string[] {
    try {
      return readFileSync(join(this.recordsDir, file), 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  }

  /** Removes the project's containers, networks and volumes (not its images), and the temp directory. */
  async down(): Promise<void> {
    await this.run(
      ['--profile', 'traffic', 'down', '--volumes', '--remove-orphans', '--timeout', '5'],
      180_000,
    ).catch(() => undefined);
    if (process.env.NOS_KEEP_STACK_DATA !== '1') rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs scripts/build-images.sh (seconds when the images are current); throws with its output. */
export function buildLocalImages(): string {
  const result = spawnSync('bash', [join(repoRoot, 'scripts', 'build-images.sh')], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 1_500_000,
  });
  if (result.status !== 0) {
    throw new Error(`scripts/build-images.sh exited ${result.status}:\n${result.stderr}`);
  }
  return result.stderr;
}
