// scripts/up.sh --preflight with stub docker / kind / kubectl / helm / helmfile commands on PATH:
// every problem reported in one run, cgroup v1 detected, kubectl version skew checked both ways, the
// kind host ports checked, no terminal escape codes in a pipe. Only basic system utilities are real.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePorts } from '../../scripts/lib/processes.ts';
import { findTool } from '../support/tools.ts';
import { pinnedVersion, repoRoot } from '../support/versions.ts';

const kubernetes = pinnedVersion('KUBERNETES_VERSION');
const [major, minor] = kubernetes.split('.').map(Number) as [number, number];

interface Stubs {
  cgroupVersion?: string;
  kubectlVersion?: string;
  missing?: string[];
  kindConfig?: string;
}

// The system utilities up.sh's preflight uses; nothing else is on PATH.
const UTILITIES = [
  'sed',
  'sort',
  'head',
  'awk',
  'grep',
  'cut',
  'cat',
  'tr',
  'mktemp',
  'rm',
  'dirname',
];

function stubScripts(stubs: Stubs): Record<string, string> {
  return {
    docker: `#!/bin/sh
case "$*" in
  "info") exit 0 ;;
  *CgroupVersion*) echo "${stubs.cgroupVersion ?? '2'}" ;;
  *MemTotal*) echo 17179869184 ;;
  *NCPU*) echo 8 ;;
esac`,
    kind: `#!/bin/sh
case "$1" in
  version) echo "kind v${pinnedVersion('KIND_VERSION')} go1.26 linux/amd64" ;;
  get) exit 0 ;;
esac`,
    kubectl: `#!/bin/sh
printf 'clientVersion:\\n  gitVersion: v${stubs.kubectlVersion ?? kubernetes}\\n'`,
    helm: `#!/bin/sh
case "$1" in
  version) printf 'v${pinnedVersion('HELM_VERSION')}' ;;
  plugin) printf 'NAME\\tVERSION\\ndiff\\t${pinnedVersion('HELM_DIFF_VERSION')}\\n' ;;
esac`,
    helmfile: `#!/bin/sh
echo ${pinnedVersion('HELMFILE_VERSION')}`,
  };
}

let root: string;
let listener: Server;
let takenPort: number;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'nos-preflight-'));
  [takenPort] = (await freePorts(1)) as [number];
  listener = createServer(() => undefined);
  await new Promise<void>((resolve) => listener.listen(takenPort, '127.0.0.1', resolve));
});
after(() => {
  listener.close();
  rmSync(root, { recursive: true, force: true });
});

let runs = 0;
/** Runs up.sh --preflight with the stubs; its exit code and output (stdout is a pipe, not a TTY). */
async function preflight(stubs: Stubs): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = mkdtempSync(join(root, `bin-${runs++}-`));
  for (const utility of UTILITIES) {
    const path = findTool(utility);
    assert.ok(path, `${utility} is on this machine`);
    symlinkSync(path, join(bin, utility));
  }
  for (const [name, script] of Object.entries(stubScripts(stubs))) {
    if (stubs.missing?.includes(name)) continue;
    writeFileSync(join(bin, name), script);
    chmodSync(join(bin, name), 0o755);
  }
  const env = {
    PATH: bin,
    HOME: root,
    // An empty tool cache: the real helm of the machine must not be found.
    NOS_CACHE_DIR: join(root, 'cache'),
    NOS_KIND_CONFIG: stubs.kindConfig ?? join(repoRoot, 'kind-config.yaml'),
  };
  const bash = findTool('bash') as string;
  return new Promise((resolve) => {
    execFile(
      bash,
      [join(repoRoot, 'scripts/up.sh'), '--preflight'],
      { env },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
      },
    );
  });
}

/** kind-config.yaml with its host ports replaced by `port` (one mapping) and two free ones. */
async function kindConfigWithPort(port: number): Promise<string> {
  const free = await freePorts(2);
  const ports = [port, ...free];
  let index = 0;
  const config = readFileSync(join(repoRoot, 'kind-config.yaml'), 'utf8').replace(
    /hostPort: \d+/g,
    () => `hostPort: ${ports[index++]}`,
  );
  const file = join(root, `kind-config-${port}.yaml`);
  writeFileSync(file, config);
  return file;
}

describe('scripts/up.sh --preflight', () => {
  it('passes with every tool at the pinned versions and the ports free', async () => {
    const result = await preflight({
      kindConfig: await kindConfigWithPort((await freePorts(1))[0] as number),
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /docker ok, kind/);
    assert.ok(
      !(result.stdout + result.stderr).includes('\u001b['),
      'no escape codes when stdout is not a terminal',
    );
  });

  it('reports every missing tool in one run', async () => {
    const result = await preflight({ missing: ['docker', 'kind', 'kubectl', 'helm', 'helmfile'] });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /5 problem\(s\) found/);
    for (const tool of ['docker', 'kind', 'kubectl', 'helm', 'helmfile']) {
      assert.match(result.stderr, new RegExp(`- ${tool} is not installed\\.`), tool);
    }
    assert.ok(
      !(result.stdout + result.stderr).includes('\u001b['),
      'no escape codes when stdout is not a terminal',
    );
  });

  it('refuses a cgroup v1 Docker host with what to do', async () => {
    const result = await preflight({ cgroupVersion: '1' });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /cgroup v1/);
    assert.match(result.stderr, /systemd\.unified_cgroup_hierarchy=1/);
  });

  it('checks the kubectl version skew both ways (one minor version older or newer)', async () => {
    for (const [version, ok] of [
      [`${major}.${minor - 1}.0`, true],
      [`${major}.${minor + 1}.2`, true],
      [`${major}.${minor - 2}.9`, false],
      [`${major}.${minor + 2}.0`, false],
    ] as const) {
      const result = await preflight({
        kubectlVersion: version,
        kindConfig: await kindConfigWithPort((await freePorts(1))[0] as number),
      });
      assert.equal(result.code, ok ? 0 : 1, `kubectl ${version}: ${result.stderr}`);
      if (!ok) assert.match(result.stderr, /outside the supported skew/);
    }
  });

  it('reports a host port of the kind configuration that is already in use', async () => {
    const result = await preflight({ kindConfig: await kindConfigWithPort(takenPort) });
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`port ${takenPort} on 127\\.0\\.0\\.1 is in use`));
  });
});
