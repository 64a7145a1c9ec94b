// service.name and service.version come from the package.json of the service being started (the
// nearest one above the entry script, e.g. services/api-gateway/dist/server.js), so the preload needs
// no per-service configuration. The npm scope is dropped: "@nos/api-gateway" -> "api-gateway".

import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { ServiceInfo } from './resource.ts';

export function serviceNameFromPackageName(packageName: string): string {
  return packageName.replace(/^@[^/]+\//, '');
}

export function findServiceInfo(startDir: string): ServiceInfo | undefined {
  let dir = resolve(startDir);
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (typeof pkg.name === 'string' && pkg.name !== '') {
        return {
          name: serviceNameFromPackageName(pkg.name),
          version: typeof pkg.version === 'string' ? pkg.version : 'unknown',
        };
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** The service started by this process: from the entry script's location, else the cwd. */
export function currentServiceInfo(): ServiceInfo {
  const entry = process.argv[1];
  let startDir = process.cwd();
  if (entry) {
    try {
      startDir = dirname(realpathSync(entry));
    } catch {
      startDir = dirname(resolve(entry));
    }
  }
  return findServiceInfo(startDir) ?? { name: 'unknown_service', version: 'unknown' };
}
