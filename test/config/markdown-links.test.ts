// Every relative link in the project's Markdown resolves to a file or folder that exists, taken
// relative to the file that holds it (as GitHub and editors resolve it). Links inside code are not
// links; web addresses and in-page anchors are out of scope.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../support/versions.ts';

const SKIPPED_DIRS = new Set(['node_modules', '.git', 'dist', '.bench', 'coverage']);

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return SKIPPED_DIRS.has(entry.name) ? [] : markdownFiles(path);
    return entry.name.endsWith('.md') ? [path] : [];
  });
}

/** The targets of inline links and images, and of reference definitions, outside code. */
export function linkTargets(markdown: string): string[] {
  const prose = markdown
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '')
    .replace(/`[^`\n]*`/g, '');
  const inline = [...prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)];
  const definitions = [...prose.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)];
  return [...inline, ...definitions].map((m) => m[1] ?? '');
}

const isRelative = (target: string): boolean =>
  target !== '' && !target.startsWith('#') && !/^[a-z][a-z0-9+.-]*:/i.test(target);

describe('Markdown links', () => {
  it('finds the links it should and skips code', () => {
    const sample = [
      'See [a](docs/a.md#x), ![img](b.png "title") and [web](https://example.org).',
      '[ref]: ../c.md',
      '`[not](a-link.md)`',
      '```',
      '[neither](this.md)',
      '```',
    ].join('\n');
    assert.deepEqual(linkTargets(sample), [
      'docs/a.md#x',
      'b.png',
      'https://example.org',
      '../c.md',
    ]);
  });

  const files = markdownFiles(repoRoot);
  it('there are Markdown files to check', () => {
    assert.ok(files.length >= 5, files.join(', '));
  });
  for (const file of files) {
    const name = relative(repoRoot, file);
    it(`${name}: every relative link resolves`, () => {
      const broken = linkTargets(readFileSync(file, 'utf8'))
        .filter(isRelative)
        .filter((target) => {
          const path = decodeURIComponent(target.split('#')[0] ?? '');
          return !existsSync(resolve(dirname(file), path));
        });
      assert.deepEqual(broken, [], `${name} links to files that do not exist`);
    });
  }
});
