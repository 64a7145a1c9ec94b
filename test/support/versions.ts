// Reads versions.env (KEY=value lines, `#` comments): the pinned versions of every external component.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const repoRoot = join(import.meta.dirname, '..', '..');

/** versions.env as a map. Throws on a line that is neither blank, a comment nor KEY=value. */
export function readVersionsEnv(
  path: string = join(repoRoot, 'versions.env'),
): Map<string, string> {
  const versions = new Map<string, string>();
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((raw, index) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
      if (!match) throw new Error(`${path}:${index + 1}: not a KEY=value line: ${raw}`);
      versions.set(match[1] as string, (match[2] as string).replace(/^(["'])(.*)\1$/, '$2'));
    });
  return versions;
}

/** The value of `key` in versions.env; throws when it is missing. */
export function pinnedVersion(
  key: string,
  versions: Map<string, string> = readVersionsEnv(),
): string {
  const value = versions.get(key);
  if (value === undefined || value === '') throw new Error(`versions.env has no ${key}`);
  return value;
}
