import { invalidArgument } from '@skein/core';
import type { TlsFlags } from './target.js';

export type CommandName = 'ping' | 'call' | 'bench';

/** A command line, read and checked: nothing in it needs the network to be found wrong. */
export interface Command {
  readonly name: CommandName;
  readonly addr: string;
  /** `Service.method` (call, bench). */
  readonly method: string;
  /** The argument's JSON text as given; undefined sends no argument. */
  readonly json: string | undefined;
  readonly codec: string;
  readonly timeoutMs: number;
  readonly count: number;
  readonly inFlight: number;
  readonly durationS: number;
  /** Print bench's summary as one JSON object. */
  readonly asJson: boolean;
  /** For tls:// addresses. */
  readonly tls: TlsFlags;
}

/**
 * The most calls `bench` keeps in flight: one connection's worth and then some (a server takes
 * 1024 at once per connection by default). Each is a caller and a window slot, so an unbounded
 * figure would allocate, or stall, before a single call is sent.
 */
const MAX_IN_FLIGHT = 65_536;

export type Parsed = { help: true } | { version: true } | { command: Command };

interface FlagSpec {
  readonly key: 'codec' | 'timeout' | 'count' | 'in-flight' | 'duration' | 'json' | 'ca' | 'cert' | 'key' | 'servername';
  readonly takesValue: boolean;
  readonly for: readonly CommandName[];
}

const FLAGS: Readonly<Record<string, FlagSpec>> = {
  codec: { key: 'codec', takesValue: true, for: ['call', 'bench'] },
  timeout: { key: 'timeout', takesValue: true, for: ['ping', 'call', 'bench'] },
  count: { key: 'count', takesValue: true, for: ['ping'] },
  'in-flight': { key: 'in-flight', takesValue: true, for: ['bench'] },
  duration: { key: 'duration', takesValue: true, for: ['bench'] },
  json: { key: 'json', takesValue: false, for: ['bench'] },
  ca: { key: 'ca', takesValue: true, for: ['ping', 'call', 'bench'] },
  cert: { key: 'cert', takesValue: true, for: ['ping', 'call', 'bench'] },
  key: { key: 'key', takesValue: true, for: ['ping', 'call', 'bench'] },
  servername: { key: 'servername', takesValue: true, for: ['ping', 'call', 'bench'] },
};

const POSITIONALS: Readonly<Record<CommandName, { min: number; max: number; usage: string }>> = {
  ping: { min: 1, max: 1, usage: 'skein ping ADDR' },
  call: { min: 2, max: 3, usage: "skein call ADDR Service.method ['<json>']" },
  bench: { min: 2, max: 3, usage: "skein bench ADDR Service.method ['<json>']" },
};

/** Reads argv (without node and the script). Mistakes throw InvalidArgument saying what is wrong. */
export function parseArgs(argv: readonly string[]): Parsed {
  if (argv.length === 0 || argv.includes('--help') || argv.includes('-h') || argv[0] === 'help') return { help: true };
  if (argv[0] === '--version' || argv[0] === '-V') return { version: true };
  const name = argv[0]!;
  if (!Object.hasOwn(POSITIONALS, name)) throw invalidArgument(`unknown command ${JSON.stringify(name)} (want ping, call or bench)`);
  const command = name as CommandName;
  const { positionals, flags } = split(command, argv.slice(1));
  const shape = POSITIONALS[command];
  if (positionals.length < shape.min || positionals.length > shape.max) throw invalidArgument(`usage: ${shape.usage}`);
  return {
    command: {
      name: command,
      addr: positionals[0]!,
      method: positionals[1] ?? '',
      json: positionals[2],
      codec: flags.get('codec') ?? 'msgpack',
      timeoutMs: number(flags.get('timeout'), 10_000, 'timeout', 'milliseconds'),
      count: integer(flags.get('count'), 1, 'count', 'pings'),
      inFlight: atMost(integer(flags.get('in-flight'), 16, 'in-flight', 'calls'), MAX_IN_FLIGHT, 'in-flight', 'calls'),
      durationS: number(flags.get('duration'), 5, 'duration', 'seconds'),
      asJson: flags.has('json'),
      tls: { ca: flags.get('ca'), cert: flags.get('cert'), key: flags.get('key'), servername: flags.get('servername') },
    },
  };
}

function split(command: CommandName, args: readonly string[]): { positionals: string[]; flags: Map<string, string> } {
  const positionals: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    // A lone `-` or a negative number is a value (JSON may be `-1`), not a flag.
    if (!a.startsWith('--')) {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const flag = a.slice(2, eq < 0 ? undefined : eq);
    const spec = Object.hasOwn(FLAGS, flag) ? FLAGS[flag]! : undefined;
    if (!spec || !spec.for.includes(command)) throw invalidArgument(`unknown option --${flag} for ${command}`);
    if (!spec.takesValue) {
      if (eq >= 0) throw invalidArgument(`--${flag} takes no value`);
      flags.set(spec.key, '');
      continue;
    }
    const value = eq >= 0 ? a.slice(eq + 1) : args[++i];
    if (value === undefined) throw invalidArgument(`--${flag} needs a value`);
    flags.set(spec.key, value);
  }
  return { positionals, flags };
}

function number(text: string | undefined, fallback: number, flag: string, unit: string): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0) throw invalidArgument(`--${flag} must be a positive number of ${unit}, got ${JSON.stringify(text)}`);
  return n;
}

function integer(text: string | undefined, fallback: number, flag: string, unit: string): number {
  const n = number(text, fallback, flag, unit);
  if (!Number.isSafeInteger(n)) throw invalidArgument(`--${flag} must be a whole number, got ${JSON.stringify(text)}`);
  return n;
}

function atMost(n: number, max: number, flag: string, unit: string): number {
  if (n > max) throw invalidArgument(`--${flag} must be at most ${max} ${unit}, got ${n}`);
  return n;
}
