import { isIP } from 'node:net';

/**
 * Source addresses as a user writes them: IPv4 and IPv6 addresses and CIDR ranges, in a list or
 * comma-separated (`198.18.5.0/29,198.18.6.7`), expanded into the addresses they name, in order.
 * A range names every address in it (network and broadcast addresses too: on a loopback or as
 * /32s each can be a host's own). The expansion is bounded, so a typo (`/8`) is refused, not
 * expanded into millions.
 */

export const MAX_SOURCE_ADDRESSES = 4096;

/** An address as the host lists it (`os.networkInterfaces()`): IPv6 compressed and lower case. */
export function canonicalAddress(address: string): string {
  return isIP(address) === 6 ? new URL(`http://[${address}]/`).hostname.slice(1, -1) : address;
}

function v4ToInt(a: string): number {
  return a.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

function intToV4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

function v6ToBig(a: string): bigint {
  const [head = '', tail] = canonicalAddress(a).split('::');
  const groups = (s: string | undefined) => (s === undefined || s === '' ? [] : s.split(':'));
  // An embedded IPv4 tail (::ffff:1.2.3.4) is compressed by the URL form into hex groups already.
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return all.reduce((n, g) => (n << 16n) + BigInt(Number.parseInt(g, 16)), 0n);
}

function bigToV6(n: bigint): string {
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((n >> BigInt(i * 16)) & 0xffffn).toString(16));
  return canonicalAddress(groups.join(':'));
}

/** One entry (an address or a range) into its addresses, or what is wrong with it. */
function expandEntry(entry: string, room: number): string[] | string {
  const slash = entry.indexOf('/');
  const address = slash < 0 ? entry : entry.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return `"${entry}" is not an IPv4 or IPv6 address or range`;
  if (slash < 0) return [canonicalAddress(address)];
  const bits = family === 4 ? 32 : 128;
  const prefixText = entry.slice(slash + 1);
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : -1;
  if (prefix < 0 || prefix > bits) return `"${entry}": the prefix length is 0 to ${bits}`;
  const size = 2 ** (bits - prefix);
  if (size > room)
    return `"${entry}" names ${size > 2 ** 52 ? 'more than 2^52' : size} addresses; at most ${MAX_SOURCE_ADDRESSES} in all`;
  if (family === 4) {
    const first = v4ToInt(address) - (v4ToInt(address) % size);
    return Array.from({ length: size }, (_, i) => intToV4(first + i));
  }
  const first = (v6ToBig(address) >> BigInt(bits - prefix)) << BigInt(bits - prefix);
  return Array.from({ length: size }, (_, i) => bigToV6(first + BigInt(i)));
}

/** Entries (each possibly comma-separated) into the addresses they name, or every problem with them. */
export function expandAddressList(entries: readonly string[]): { addresses: string[]; problems: string[] } {
  const addresses: string[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const entry of entries.flatMap((e) => e.split(',')).map((e) => e.trim())) {
    if (entry === '') continue;
    const r = expandEntry(entry, MAX_SOURCE_ADDRESSES - addresses.length);
    if (typeof r === 'string') {
      problems.push(r);
      continue;
    }
    for (const a of r) {
      if (seen.has(a)) problems.push(`${a} is named twice`);
      else addresses.push(a);
      seen.add(a);
    }
  }
  if (addresses.length === 0 && problems.length === 0) problems.push('no address given');
  return { addresses, problems };
}
