// scripts/up.sh with stub docker / kind / kubectl / helm / helmfile / curl commands on PATH that log
// their arguments. --preflight: every problem reported in one run, cgroup v1 detected, kubectl version
// skew checked both ways, the kind host ports checked, no terminal escape codes in a pipe. A whole run:
// images loaded through `docker save` + `kind load image-archive` (not `kind load docker-image`, which
// fails under Docker's containerd image store), skipped when the node has them; the namespaces
// labelled before helmfile applies. With NOS_KUBE_CONTEXT (an existing cluster): no kind, no Docker
// when the image tags are given, the context's API server checked, helmfile given that context and
// the selected releases, sync without helm-diff; down.sh removes only the releases. Only basic system
// utilities are real.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
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
  /** The node already has the service images (crictl inspecti succeeds). */
  imagesOnNode?: boolean;
  kubectlVersion?: string;
  missing?: string[];
  kindConfig?: string;
  /** The API server of the kubectl context does not answer. */
  clusterDown?: boolean;
  /** helm has no diff plugin. */
  noDiff?: boolean;
  /** More environment (NOS_KUBE_CONTEXT, ...). */
  env?: Record<string, string>;
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
  'basename',
  'seq',
  'sleep',
  'touch',
];

function stubScripts(stubs: Stubs): Record<string, string> {
  // Every stub appends its command line to $NOS_STUB_LOG.
  const log = 'echo "$(basename "$0") $*" >> "$NOS_STUB_LOG"';
  return {
    docker: `#!/bin/sh
${log}
case "$*" in
  "info") exit 0 ;;
  *CgroupVersion*) echo "${stubs.cgroupVersion ?? '2'}" ;;
  *MemTotal*) echo 17179869184 ;;
  *NCPU*) echo 8 ;;
  "image inspect"*) echo sha256:0123456789abcdef0123456789abcdef ;;
  exec*) exit ${stubs.imagesOnNode ? 0 : 1} ;;
  save*) touch "$3" ;;
esac`,
    kind: `#!/bin/sh
${log}
case "$1" in
  version) echo "kind v${pinnedVersion('KIND_VERSION')} go1.26 linux/amd64" ;;
  load) test -f "$3" || exit 1 ;;
esac`,
    kubectl: `#!/bin/sh
${log}
case "$*" in
  version*) printf 'clientVersion:\\n  gitVersion: v${stubs.kubectlVersion ?? kubernetes}\\n' ;;
  *"get --raw /readyz"*) exit ${stubs.clusterDown ? 1 : 0} ;;
esac`,
    helm: `#!/bin/sh
${log}
case "$1" in
  version) printf 'v${pinnedVersion('HELM_VERSION')}' ;;
  plugin) printf 'NAME\\tVERSION\\n${stubs.noDiff ? '' : `diff\\t${pinnedVersion('HELM_DIFF_VERSION')}\\n`}' ;;
esac`,
    helmfile: `#!/bin/sh
${log}
case "$1" in
  version) echo ${pinnedVersion('HELMFILE_VERSION')} ;;
esac`,
    curl: `#!/bin/sh
${log}`,
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
interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** The stub commands' command lines, in order. */
  calls: string[];
}

/** Runs up.sh --preflight with the stubs (stdout is a pipe, not a TTY). */
function preflight(stubs: Stubs): Promise<Run> {
  return upScript(stubs, ['--preflight']);
}

/** Runs up.sh with the stubs and arguments; its exit code, output and the stubs' calls. */
async function upScript(stubs: Stubs, args: string[]): Promise<Run> {
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
  const log = join(bin, 'calls.log');
  writeFileSync(log, '');
  const env = {
    PATH: bin,
    NOS_STUB_LOG: log,
    HOME: root,
    // An empty tool cache: the real helm of the machine must not be found.
    NOS_CACHE_DIR: join(root, 'cache'),
    NOS_KIND_CONFIG: stubs.kindConfig ?? join(repoRoot, 'kind-config.yaml'),
    ...stubs.env,
  };
  const bash = findTool('bash') as string;
  return new Promise((resolve) => {
    execFile(bash, [join(repoRoot, 'scripts/up.sh'), ...args], { env }, (error, stdout, stderr) => {
      const calls = readFileSync(log, 'utf8').split('\n').filter(Boolean);
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr, calls });
    });
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
    // Free host ports: the compose stack (another test file) may hold the real ones meanwhile.
    const result = await preflight({
      missing: ['docker', 'kind', 'kubectl', 'helm', 'helmfile'],
      kindConfig: await kindConfigWithPort((await freePorts(1))[0] as number),
    });
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

describe('scripts/up.sh, a whole run with stub tools', () => {
  it('loads the images with docker save + kind load image-archive, then labels namespaces before helmfile', async () => {
    const kindConfig = await kindConfigWithPort((await freePorts(1))[0] as number);
    const result = await upScript({ kindConfig }, []);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(
      !result.calls.some((c) => c.includes('load docker-image')),
      'no kind load docker-image',
    );
    for (const service of ['user-service', 'api-gateway']) {
      const tag = new RegExp(`${service}:\\d+\\.\\d+\\.\\d+-0123456789ab\\b`);
      const save = result.calls.findIndex(
        (c) => c.startsWith('docker save --output') && tag.test(c),
      );
      assert.ok(save >= 0, `docker save of ${service}`);
      const archive = (result.calls[save] as string).split(' ')[3] as string;
      assert.ok(archive.endsWith(`/${service}.tar`), archive);
      const load = result.calls.indexOf(
        `kind load image-archive ${archive} --name node-observability-stack`,
      );
      assert.ok(load > save, `kind load image-archive of ${service} after its docker save`);
      assert.ok(!existsSync(archive), 'the archive is removed');
    }
    const labels = result.calls.findIndex((c) => /^kubectl .*apply -f namespaces\.yaml$/.test(c));
    const apply = result.calls.findIndex((c) =>
      c.startsWith('helmfile --file helmfile.yaml apply'),
    );
    assert.ok(labels >= 0 && apply > labels, 'namespaces.yaml applied before helmfile apply');
  });

  it('skips loading an image the node already has (same content, same tag)', async () => {
    const kindConfig = await kindConfigWithPort((await freePorts(1))[0] as number);
    const result = await upScript({ kindConfig, imagesOnNode: true }, []);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.calls.filter((c) => c.includes('crictl inspecti')).length, 2);
    assert.ok(!result.calls.some((c) => c.startsWith('docker save') || c.startsWith('kind load')));
  });
});

describe('scripts/up.sh and down.sh with NOS_KUBE_CONTEXT (an existing cluster)', () => {
  const existing = {
    NOS_KUBE_CONTEXT: 'docker-desktop',
    NOS_API_GATEWAY_TAG: '0.1.0-given',
    NOS_USER_SERVICE_TAG: '0.1.0-given',
  };

  it('needs neither kind nor Docker when the image tags are given, and checks the context answers', async () => {
    const ok = await preflight({ missing: ['kind', 'docker'], env: existing });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /context docker-desktop ok/);
    assert.ok(ok.calls.includes('kubectl --context docker-desktop get --raw /readyz'));
    assert.ok(!ok.calls.some((c) => c.startsWith('kind ') || c.startsWith('docker ')));

    const down = await preflight({ missing: ['kind'], clusterDown: true, env: existing });
    assert.equal(down.code, 1);
    assert.match(down.stderr, /context 'docker-desktop' \(NOS_KUBE_CONTEXT\) does not answer/);

    // Without the tags the images are built: Docker is needed again.
    const build = await preflight({
      missing: ['kind', 'docker'],
      env: { NOS_KUBE_CONTEXT: 'docker-desktop' },
    });
    assert.equal(build.code, 1);
    assert.match(build.stderr, /- docker is not installed/);
  });

  it('installs into that context: no cluster created, no image built or loaded, the selected releases', async () => {
    const result = await upScript(
      {
        missing: ['kind'],
        env: { ...existing, NOS_RELEASES: 'user-service,api-gateway', NOS_HELMFILE_SKIP_DEPS: '1' },
      },
      [],
    );
    assert.equal(result.code, 0, result.stderr);
    assert.ok(!result.calls.some((c) => c.startsWith('kind ') || c.startsWith('docker ')));
    const labels = result.calls.indexOf(
      'kubectl --context docker-desktop apply -f namespaces.yaml',
    );
    const apply = result.calls.findIndex((c) =>
      c.startsWith('helmfile --file helmfile.yaml apply --kube-context docker-desktop'),
    );
    assert.ok(labels >= 0 && apply > labels, result.calls.join('\n'));
    assert.match(
      result.calls[apply] as string,
      / --selector name=user-service --selector name=api-gateway --skip-deps --skip-diff-on-install/,
    );
    assert.ok(!result.calls.some((c) => c.startsWith('curl')), 'no kind port mapping to probe');
    assert.match(result.stdout, /port-forward service\/api-gateway 8080:8080/);
  });

  it('falls back to helmfile sync without the helm-diff plugin', async () => {
    const result = await upScript({ missing: ['kind'], noDiff: true, env: existing }, []);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /helm-diff plugin is missing: helmfile sync instead of apply/);
    assert.ok(
      result.calls.includes('helmfile --file helmfile.yaml sync --kube-context docker-desktop'),
      result.calls.join('\n'),
    );
  });

  it('kind mode still requires the helm-diff plugin', async () => {
    const result = await preflight({ noDiff: true });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /helm-diff plugin is missing/);
  });

  it('npm run down removes only the releases of that context, never a kind cluster', async () => {
    const result = await downScript({ ...existing, NOS_RELEASES: 'api-gateway' });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.calls, [
      'helmfile --file helmfile.yaml destroy --kube-context docker-desktop --skip-charts --selector name=api-gateway',
    ]);
  });
});

/** scripts/down.sh with the stub tools and `env`. */
async function downScript(env: Record<string, string>): Promise<Run> {
  const bin = mkdtempSync(join(root, `bin-${runs++}-`));
  for (const utility of UTILITIES) symlinkSync(findTool(utility) as string, join(bin, utility));
  for (const [name, script] of Object.entries(stubScripts({}))) {
    writeFileSync(join(bin, name), script);
    chmodSync(join(bin, name), 0o755);
  }
  const log = join(bin, 'calls.log');
  writeFileSync(log, '');
  const bash = findTool('bash') as string;
  return new Promise((resolve) => {
    execFile(
      bash,
      [join(repoRoot, 'scripts/down.sh')],
      {
        env: {
          PATH: bin,
          NOS_STUB_LOG: log,
          HOME: root,
          NOS_CACHE_DIR: join(root, 'cache'),
          ...env,
        },
      },
      (error, stdout, stderr) => {
        const calls = readFileSync(log, 'utf8').split('\n').filter(Boolean);
        resolve({ code: error ? Number(error.code) : 0, stdout, stderr, calls });
      },
    );
  });
}
