import { MAX_HEALTH_SERVICE_NAME } from '@skein/api';
import { invalidArgument } from '@skein/core';
import type { TlsFlags } from './target.js';

export type CommandName = 'ping' | 'call' | 'bench' | 'health' | 'servers';

/** A command line, read and checked: nothing in it needs the network to be found wrong. */
export interface Command {
  readonly name: CommandName;
  readonly addr: string;
  /** `Service.method` (call, bench). */
  readonly method: string;
  /** health: the service asked about; `''` (none given) is the whole server. */
  readonly service: string;
  /** health: follow the status (`--watch`) instead of checking it once. */
  readonly watch: boolean;
  /** The argument's JSON text as given; undefined sends no argument. */
  readonly json: string | undefined;
  readonly codec: string;
  readonly timeoutMs: number;
  readonly count: number;
  readonly inFlight: number;
  readonly durationS: number;
  /** Print bench's summary as one JSON object, or servers' list as one JSON array. */
  readonly asJson: boolean;
  /** servers: etcd's client URLs (`--etcd`, comma-separated); empty for the other commands. */
  readonly etcd: readonly string[];
  /** servers: the key prefix (`--prefix`); undefined for @skein/discovery-etcd's default. */
  readonly prefix: string | undefined;
  /** servers: only this server type (`--type`). */
  readonly type: string | undefined;
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
  readonly key: 'codec' | 'timeout' | 'count' | 'in-flight' | 'duration' | 'json' | 'watch' | 'ca' | 'cert' | 'key' | 'servername' | 'etcd' | 'prefix' | 'type';
  readonly takesValue: boolean;
  readonly for: readonly CommandName[];
}

const FLAGS: Readonly<Record<string, FlagSpec>> = {
  codec: { key: 'codec', takesValue: true, for: ['call', 'bench', 'health'] },
  timeout: { key: 'timeout', takesValue: true, for: ['ping', 'call', 'bench', 'health', 'servers'] },
  count: { key: 'count', takesValue: true, for: ['ping'] },
  'in-flight': { key: 'in-flight', takesValue: true, for: ['bench'] },
  duration: { key: 'duration', takesValue: true, for: ['bench'] },
  json: { key: 'json', takesValue: false, for: ['bench', 'servers'] },
  watch: { key: 'watch', takesValue: false, for: ['health'] },
  etcd: { key: 'etcd', takesValue: true, for: ['servers'] },
  prefix: { key: 'prefix', takesValue: true, for: ['servers'] },
  type: { key: 'type', takesValue: true, for: ['servers'] },
  ca: { key: 'ca', takesValue: true, for: ['ping', 'call', 'bench', 'health'] },
  cert: { key: 'cert', takesValue: true, for: ['ping', 'call', 'bench', 'health'] },
  key: { key: 'key', takesValue: true, for: ['ping', 'call', 'bench', 'health'] },
  servername: { key: 'servername', takesValue: true, for: ['ping', 'call', 'bench', 'health'] },
};

/**
 * Each command's positionals and its usage line, the one source of both the usage error and
 * `skein --help` (usage.ts): every option the command takes (FLAGS) is on its line, but for the
 * TLS options that every command with an ADDR takes, which --help lists once under ADDR.
 */
const POSITIONALS: Readonly<Record<CommandName, { min: number; max: number; usage: string }>> = {
  ping: { min: 1, max: 1, usage: 'skein ping ADDR [--count N] [--timeout MS]' },
  call: { min: 2, max: 3, usage: "skein call ADDR Service.method ['<json>'] [--codec msgpack|cbor] [--timeout MS]" },
  bench: { min: 2, max: 3, usage: "skein bench ADDR Service.method ['<json>'] [--in-flight N] [--duration S] [--codec C] [--json] [--timeout MS]" },
  health: { min: 1, max: 2, usage: 'skein health ADDR [SERVICE] [--watch] [--codec C] [--timeout MS]' },
  servers: { min: 0, max: 0, usage: 'skein servers --etcd http://host:2379[,...] [--prefix P] [--type T] [--json] [--timeout MS]' },
};

/** Every command's usage line, as --help lists them. */
export const USAGE_LINES: readonly string[] = Object.values(POSITIONALS).map((p) => p.usage);

/** Reads argv (without node and the script). Mistakes throw InvalidArgument saying what is wrong. */
export function parseArgs(argv: readonly string[]): Parsed {
  if (argv.length === 0 || argv.includes('--help') || argv.includes('-h') || argv[0] === 'help') return { help: true };
  if (argv[0] === '--version' || argv[0] === '-V') return { version: true };
  const name = argv[0]!;
  if (!Object.hasOwn(POSITIONALS, name)) throw invalidArgument(`unknown command ${JSON.stringify(name)} (want ping, call, bench, health or servers)`);
  const command = name as CommandName;
  const { positionals, flags } = split(command, argv.slice(1));
  const shape = POSITIONALS[command];
  if (positionals.length < shape.min || positionals.length > shape.max) throw invalidArgument(`usage: ${shape.usage}`);
  return {
    command: {
      name: command,
      addr: positionals[0] ?? '',
      method: command === 'health' ? '' : (positionals[1] ?? ''),
      service: command === 'health' ? healthServiceName(positionals[1]) : '',
      watch: flags.has('watch'),
      json: positionals[2],
      codec: flags.get('codec') ?? 'msgpack',
      timeoutMs: positiveInteger(flags.get('timeout'), 10_000, 'timeout', 'milliseconds'),
      count: positiveInteger(flags.get('count'), 1, 'count', 'pings'),
      inFlight: atMost(positiveInteger(flags.get('in-flight'), 16, 'in-flight', 'calls'), MAX_IN_FLIGHT, 'in-flight', 'calls'),
      durationS: positiveDecimal(flags.get('duration'), 5, 'duration', 'seconds'),
      asJson: flags.has('json'),
      tls: { ca: flags.get('ca'), cert: flags.get('cert'), key: flags.get('key'), servername: flags.get('servername') },
      etcd: command === 'servers' ? etcdUrls(flags.get('etcd')) : [],
      prefix: etcdPrefix(flags.get('prefix')),
      type: serverType(flags.get('type')),
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

/**
 * `--duration`: seconds, which a bench may well want fewer of than one (`0.5`): plain decimal
 * digits with an optional fraction, above 0; no `0x10`, `1e3` or spaces, as for the integers.
 */
function positiveDecimal(text: string | undefined, fallback: number, flag: string, unit: string): number {
  if (text === undefined) return fallback;
  const n = /^[0-9]+(\.[0-9]+)?$/.test(text) ? Number(text) : NaN;
  if (!(n > 0 && Number.isFinite(n))) throw invalidArgument(`--${flag} must be a positive number of ${unit} (decimal digits, a fraction allowed), got ${JSON.stringify(text)}`);
  return n;
}

/**
 * The numeric options counted in whole units (all but `--duration`): plain decimal digits, a whole number above 0. Number() alone also took
 * `0x10` (16), `1e3`, `10.5` and ` 10 `: a figure that is not what was typed, or a fraction of
 * a millisecond no timer keeps. One parser, so that each such option means the same by a number.
 */
function positiveInteger(text: string | undefined, fallback: number, flag: string, unit: string): number {
  if (text === undefined) return fallback;
  const n = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!(n > 0) || !Number.isSafeInteger(n)) throw invalidArgument(`--${flag} must be a whole positive number of ${unit} (decimal digits), got ${JSON.stringify(text)}`);
  return n;
}

function atMost(n: number, max: number, flag: string, unit: string): number {
  if (n > max) throw invalidArgument(`--${flag} must be at most ${max} ${unit}, got ${n}`);
  return n;
}

/**
 * `--etcd`: etcd's client URLs, comma-separated, each `http://host:port`. Plain http only: etcd3
 * would need its own TLS and auth options for https, which no flag gives yet. A user and password
 * would not be sent: refused, not echoed.
 */
function etcdUrls(text: string | undefined): string[] {
  if (text === undefined) throw invalidArgument('servers needs --etcd http://host:2379 (etcd\'s client URL; several separated by commas)');
  return text.split(',').map((one) => {
    const url = one.trim();
    if (url.includes('@')) throw invalidArgument('--etcd: a user and password in the URL are not sent; remove them');
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw invalidArgument(`--etcd ${JSON.stringify(url)} is not a URL (want http://host:port)`);
    }
    if (parsed.protocol !== 'http:') throw invalidArgument(`--etcd ${JSON.stringify(url)}: only http:// is supported (etcd over TLS or with auth: use etcdctl)`);
    // A URL drops its scheme's own port (`http://h:80` has port ''): only one written nowhere is
    // missing. etcd's client has no default for it either (etcdctl fails to dial `http://h`).
    const port = parsed.port !== '' ? parsed.port : EXPLICIT_PORT.exec(url)?.[1];
    if (port === undefined) throw invalidArgument(`--etcd ${JSON.stringify(url)} has no port (etcd's clients use 2379)`);
    // etcd's client (gRPC) dials host:port only: a path, query or fragment would be dropped, and
    // the etcd read would not be the one the URL names.
    if (parsed.pathname !== '/' || parsed.search !== '' || parsed.hash !== '' || /[?#]/.test(url)) {
      throw invalidArgument(`--etcd ${JSON.stringify(url)} has a path, query or fragment, which etcd's client cannot use (want http://host:port; a key prefix is --prefix)`);
    }
    return `http://${parsed.hostname}:${Number(port)}`;
  });
}

/** A port written after the host (`http://h:80`, `http://[::1]:80`), which the URL class drops when it is the scheme's own. */
const EXPLICIT_PORT = /^[a-z][a-z0-9+.-]*:\/\/(?:\[[^\]]*\]|[^/?#:[\]]*):(\d+)(?=[/?#]|$)/i;

/**
 * `--prefix`: the key prefix as @skein/discovery-etcd reads it, trailing slashes dropped; none left
 * (`/`) is refused here, a usage error, not by the read.
 */
function etcdPrefix(text: string | undefined): string | undefined {
  if (text !== undefined && text.replace(/\/+$/, '').trim() === '') throw invalidArgument(`--prefix must name a key prefix (skein/servers, the default), got ${JSON.stringify(text)}`);
  return text;
}

/** `--type`: a server type as @skein/discovery-etcd writes it, the key's part between two slashes. */
function serverType(text: string | undefined): string | undefined {
  if (text !== undefined && (text === '' || text.includes('/'))) throw invalidArgument(`--type must be a server type (no '/'), got ${JSON.stringify(text)}`);
  return text;
}

/** health's SERVICE: any name the health service takes (none: the whole server), refused here past its bound rather than by the server. */
function healthServiceName(text: string | undefined): string {
  if (text !== undefined && text.length > MAX_HEALTH_SERVICE_NAME) throw invalidArgument(`SERVICE is ${text.length} characters long, more than the ${MAX_HEALTH_SERVICE_NAME} a health service name may have`);
  return text ?? '';
}
