// Extracts the queries of docs/walkthrough.md: every fenced code block whose language is `promql`,
// `logql` or `traceql` (also when indented under a list item), with the `## ` section it belongs to,
// so the e2e test can run each one against the real backends.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const walkthroughPath = join(import.meta.dirname, '..', '..', 'docs', 'walkthrough.md');

export type WalkthroughLanguage = 'promql' | 'logql' | 'traceql';

export interface WalkthroughQuery {
  /** The `## ` heading above the block, e.g. "3. An incident: RED dashboard → ...". */
  section: string;
  language: WalkthroughLanguage;
  /** The block's text (indentation of the list item removed, lines joined with a space). */
  query: string;
  /** 1-based line of the opening fence. */
  line: number;
}

/** The placeholder the walkthrough uses for a trace id the reader copies. */
export const TRACE_ID_PLACEHOLDER = '<trace-id>';

const languages = new Set<string>(['promql', 'logql', 'traceql']);

export function walkthroughQueries(path: string = walkthroughPath): WalkthroughQuery[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: WalkthroughQuery[] = [];
  let section = '';
  let open: { language: string; indent: number; line: number; body: string[] } | undefined;
  lines.forEach((text, index) => {
    if (open) {
      if (/^\s*```\s*$/.test(text)) {
        if (languages.has(open.language)) {
          out.push({
            section,
            language: open.language as WalkthroughLanguage,
            query: open.body
              .map((l) => l.trim())
              .filter(Boolean)
              .join(' '),
            line: open.line,
          });
        }
        open = undefined;
      } else {
        open.body.push(text.slice(Math.min(open.indent, text.search(/\S|$/))));
      }
      return;
    }
    const fence = /^(\s*)```\s*([A-Za-z0-9_-]*)\s*$/.exec(text);
    if (fence) {
      open = {
        language: fence[2] ?? '',
        indent: fence[1]?.length ?? 0,
        line: index + 1,
        body: [],
      };
      return;
    }
    const heading = /^##\s+(.+?)\s*$/.exec(text);
    if (heading) section = heading[1] ?? '';
  });
  if (open) throw new Error(`${path}:${open.line}: code block not closed`);
  return out;
}
