import { describe, expect, it } from 'vitest';
import { skeinInProcess } from './skein-bin.js';

// Each command's usage line (in --help and in its usage error) against the options the command
// takes: a line missing one (servers' once lacked --timeout), or naming one the command refuses,
// fails here, whichever of the two drifted.

/** Runs a command line in this process: no network is reached, every line here fails parsing. */
const run = (argv: string[]) => skeinInProcess(...argv);

const flagsIn = (text: string): string[] => [...new Set(text.match(/--[a-z][a-z-]*/g) ?? [])];

describe('usage lines', async () => {
  const help = (await run(['--help'])).stdout;
  const lines = help.split('\n').filter((l) => l.startsWith('  skein ')).map((l) => l.trim());
  // The TLS options every command with an ADDR takes, listed once under ADDR.
  const tlsNote = help.split('\n').find((l) => l.includes('(TLS:'))!;
  const everyFlag = flagsIn(help);

  it.each(['ping', 'call', 'bench', 'health', 'servers'])('%s: its line names every option it takes and no other', async (command) => {
    const line = lines.find((l) => l.startsWith(`skein ${command} `))!;
    expect(line).toBeDefined();
    const listed = new Set([...flagsIn(line), ...(line.includes(' ADDR') ? flagsIn(tlsNote) : [])]);
    for (const flag of everyFlag) {
      // Too many positionals after the option: an option taken reaches the usage error, one
      // refused is named unknown first.
      const r = await run([command, flag, 'v', 'x', 'x', 'x', 'x', 'x']);
      expect(r.code).toBe(2);
      if (listed.has(flag)) expect(r.stderr, flag).toBe(`skein: usage: ${line}\n(skein --help for usage)\n`);
      else expect(r.stderr, flag).toBe(`skein: unknown option ${flag} for ${command}\n(skein --help for usage)\n`);
    }
  });
});
