// The containers as docker-compose.yaml declares them: healthy through its healthchecks and
// depends_on, non-root, read-only root where the file says so, ports on 127.0.0.1 only.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ContainerInfo } from '../../support/compose-stack.ts';
import { isOneShot, skipReason, theStack, timings, upServices } from './stack.ts';

export function containerTests(): void {
  describe('compose: containers as docker-compose.yaml says', { skip: skipReason }, () => {
    let containers: Map<string, ContainerInfo>;
    before(async () => {
      containers = await theStack().containers();
    });

    test('every service is up, and healthy where the file gives it a healthcheck', (t) => {
      assert.deepEqual([...containers.keys()].sort(), upServices.map(([n]) => n).sort());
      for (const [name, service] of upServices) {
        const c = containers.get(name) as ContainerInfo;
        if (isOneShot(service)) {
          assert.deepEqual([c.State.Status, c.State.ExitCode], ['exited', 0], `${name} ran once`);
          continue;
        }
        assert.equal(c.State.Status, 'running', name);
        if (service.healthcheck) assert.equal(c.State.Health?.Status, 'healthy', `${name} health`);
      }
      const dependencies = upServices.flatMap(([name, s]) =>
        Object.entries(s.depends_on ?? {}).map(
          ([d, { condition }]) => `${name} -> ${d} (${condition})`,
        ),
      );
      t.diagnostic(
        `up to healthy in ${timings.upToHealthyS}s; depends_on: ${dependencies.join(', ')}`,
      );
    });

    test('no long-running container runs as root; the root filesystem is read-only where the file says so', (t) => {
      const users: string[] = [];
      for (const [name, service] of upServices) {
        const c = containers.get(name) as ContainerInfo;
        const user = c.Config.User.split(':')[0] ?? '';
        if (isOneShot(service) && service.user === '0') {
          // The queue volumes' owner fix: root with CHOWN as its only capability, and no network.
          assert.deepEqual(c.HostConfig.CapDrop, ['ALL'], `${name} drops every capability`);
          // The engine reports capabilities with or without their CAP_ prefix.
          const added = (c.HostConfig.CapAdd ?? []).map((cap) => cap.replace(/^CAP_/, ''));
          assert.deepEqual(added, ['CHOWN'], `${name} keeps only CHOWN`);
          assert.equal(c.HostConfig.NetworkMode, 'none', `${name} has no network`);
          users.push(`${name}=root (CHOWN only, no network, exited)`);
          continue;
        }
        assert.ok(
          user !== '' && user !== '0' && user !== 'root',
          `${name} runs as "${c.Config.User}"`,
        );
        assert.equal(c.HostConfig.ReadonlyRootfs, service.read_only === true, `${name} read_only`);
        users.push(`${name}=${c.Config.User}${c.HostConfig.ReadonlyRootfs ? ' (read-only)' : ''}`);
      }
      t.diagnostic(users.join(', '));
    });

    test('published ports are bound to 127.0.0.1 only', (t) => {
      const seen: string[] = [];
      for (const [name, c] of containers) {
        for (const [port, bindings] of Object.entries(c.NetworkSettings.Ports ?? {})) {
          for (const b of bindings ?? []) {
            assert.equal(
              b.HostIp,
              '127.0.0.1',
              `${name} ${port} bound to ${b.HostIp}:${b.HostPort}`,
            );
            seen.push(`${name} ${b.HostIp}:${b.HostPort}->${port}`);
          }
        }
      }
      const declared = upServices.flatMap(([, s]) => s.ports ?? []).length;
      assert.equal(seen.length, declared, `every declared port is published: ${seen.join(', ')}`);
      t.diagnostic(seen.join(', '));
    });
  });
}
