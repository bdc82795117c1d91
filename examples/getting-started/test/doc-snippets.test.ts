import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script without types
import { checkDocSnippets, collectSnippets, extractSnippets } from '../../../scripts/check-doc-snippets.mjs';

// Checked against the packages' dist/ (as an installed app sees them): `pnpm test` builds first;
// alone, run `pnpm build` before this file.

// Snippets that must fail, so a checker that passes everything cannot pass this test.
const broken = extractSnippets(
  [
    '```ts',
    "import { ConnPool } from '@skein/stream';",
    "import { nodeRuntime } from '@skein/runtime-node';",
    "import { tcpTransport } from '@skein/transport-tcp';",
    "new ConnPool({ transport: tcpTransport(nodeRuntime), address: '127.0.0.1:1', maxConnection: 2 });",
    '```',
    '<!-- doc-snippet: fragment',
    'declare const n: number;',
    '-->',
    '```ts',
    'const s: string = n;',
    '```',
    '<!-- doc-snippet: run',
    '2',
    '-->',
    '```ts',
    'console.log(1 + 2);',
    '```',
  ].join('\n'),
  'broken.md',
);

describe('the docs code blocks (scripts/check-doc-snippets.mjs)', () => {
  it('type-check against the packages exports, and the runnable ones print what the page says', async () => {
    const docs = collectSnippets() as { marker: { kind: string } }[];
    const { problems } = await checkDocSnippets({ snippets: [...docs, ...broken] });
    expect(problems.filter((p: string) => !p.startsWith('broken.md')), 'run node scripts/check-doc-snippets.mjs').toEqual([]);
    // The checker sees a misspelled option, a fragment's type error past its prelude, a wrong output.
    expect(problems).toEqual([
      expect.stringMatching(/^broken\.md:5: TS2561: .*'maxConnection'.*'maxConnections'/),
      expect.stringMatching(/^broken\.md:11: TS2322: Type 'number' is not assignable to type 'string'/),
      expect.stringMatching(/^broken\.md:16: expected a line "2" on stdout/),
    ]);
    expect(docs.filter((s) => s.marker.kind === 'run').length).toBeGreaterThanOrEqual(3);
  }, 120_000);
});
