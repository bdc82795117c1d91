/**
 * An IPv6 address's one text (RFC 5952 §4): hex digits in lower case, no leading zeros in a
 * group, the longest run of two or more zero groups as `::` (the first of equal runs), and an
 * IPv4-mapped address (`::ffff:0:0/96`) with its last 32 bits dotted (§5), however it was
 * written (`::FFFF:7F00:1` is `::ffff:127.0.0.1`). So `0:0:0:0:0:0:0:1`, `0::1` and `::1` are
 * `::1`. Undefined for text that is no IPv6 address (a zone, `%eth0`, is the caller's to split
 * off): those are for the caller to keep as they are. Runtime-neutral: node:net has the parser, not
 * every runtime core runs on has node:net.
 */
export function canonicalIpv6(text: string): string | undefined {
  const groups = ipv6Groups(text.toLowerCase());
  if (groups === undefined) return undefined;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${dotted(groups[6]!, groups[7]!)}`;
  const [start, length] = longestZeroRun(groups);
  const hex = groups.map((g) => g.toString(16));
  if (length < 2) return hex.join(':');
  return `${hex.slice(0, start).join(':')}::${hex.slice(start + length).join(':')}`;
}

const HEX_GROUP = /^[0-9a-f]{1,4}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** The eight 16-bit groups of an IPv6 address's text (RFC 4291 §2.2), or undefined. */
function ipv6Groups(text: string): number[] | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parts = halves.map((h) => (h === '' ? [] : h.split(':')));
  const last = parts[parts.length - 1]!;
  // An IPv4 tail (`::ffff:1.2.3.4`) is two groups, and is last.
  if (last.length > 0 && last[last.length - 1]!.includes('.')) {
    const v4 = last.pop()!;
    if (!IPV4.test(v4)) return undefined;
    const [a, b, c, d] = v4.split('.').map(Number) as [number, number, number, number];
    last.push(((a << 8) | b).toString(16), ((c << 8) | d).toString(16));
  }
  if (!parts.every((p) => p.every((g) => HEX_GROUP.test(g)))) return undefined;
  const written = parts.flat().map((g) => parseInt(g, 16));
  // `::` stands for one zero group or more; without one, all eight are written.
  if (parts.length === 1) return written.length === 8 ? written : undefined;
  if (written.length > 7) return undefined;
  return [...parts[0]!.map((g) => parseInt(g, 16)), ...new Array<number>(8 - written.length).fill(0), ...parts[1]!.map((g) => parseInt(g, 16))];
}

/** Where the longest run of zero groups starts, and its length (the first of equal runs, RFC 5952 §4.2.3). */
function longestZeroRun(groups: readonly number[]): [number, number] {
  let best: [number, number] = [0, 0];
  for (let i = 0; i < groups.length; i++) {
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > best[1]) best = [i, j - i];
    i = j;
  }
  return best;
}

const dotted = (hi: number, lo: number): string => `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
