import { spawnSync } from 'node:child_process';

/**
 * Load machines on this one: network namespaces, each with an address of its own in the
 * benchmarking range (198.18.0.0/15), joined to the host by a veth pair. The host carries
 * 198.18.0.1 on its loopback interface (the server under test and the coordinator listen there);
 * namespace k is 198.18.(k+1).2, its host side 198.18.(k+1).1, its default route the host.
 * Everything is created with names unique to this process and removed by `remove()`.
 */

export const HOST_ADDRESS = '198.18.0.1';

export interface Machines {
  /** Namespace names, by index. */
  names: string[];
  /** Namespace k's address. */
  address(k: number): string;
  /** The command prefix that runs a program in namespace k. */
  exec(k: number): string[];
  remove(): void;
}

function ip(args: string[], ns?: string): void {
  const full = ns === undefined ? args : ['netns', 'exec', ns, 'ip', ...args];
  const r = spawnSync('ip', full, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${full.join(' ')}: ${r.stderr.trim()}`);
}

/** Why namespaces cannot be made here (not root, no `ip`), or null when they can. */
export function namespacesUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'network and time namespaces need root';
  if (spawnSync('sh', ['-c', 'command -v ip && command -v unshare'], { stdio: 'ignore' }).status !== 0) {
    return 'ip (iproute2) and unshare (util-linux) are needed';
  }
  return null;
}

export function makeMachines(count: number): Machines {
  const tag = `rb${process.pid % 100000}`;
  const names = Array.from({ length: count }, (_, k) => `${tag}n${k}`);
  const made: (() => void)[] = [];
  const remove = () => {
    for (const undo of made.reverse()) {
      try {
        undo();
      } catch {
        // Already gone.
      }
    }
    made.length = 0;
  };
  try {
    ip(['addr', 'add', `${HOST_ADDRESS}/32`, 'dev', 'lo']);
    made.push(() => ip(['addr', 'del', `${HOST_ADDRESS}/32`, 'dev', 'lo']));
    for (const [k, ns] of names.entries()) {
      ip(['netns', 'add', ns]);
      made.push(() => ip(['netns', 'del', ns]));
      const h = `${tag}h${k}`;
      const n = `${tag}v${k}`;
      ip(['link', 'add', h, 'type', 'veth', 'peer', 'name', n]);
      made.push(() => ip(['link', 'del', h]));
      ip(['link', 'set', n, 'netns', ns]);
      ip(['addr', 'add', `198.18.${k + 1}.1/24`, 'dev', h]);
      ip(['link', 'set', h, 'up']);
      ip(['addr', 'add', `198.18.${k + 1}.2/24`, 'dev', n], ns);
      ip(['link', 'set', n, 'up'], ns);
      ip(['link', 'set', 'lo', 'up'], ns);
      ip(['route', 'add', 'default', 'via', `198.18.${k + 1}.1`], ns);
    }
  } catch (e) {
    remove();
    throw e;
  }
  return {
    names,
    address: (k) => `198.18.${k + 1}.2`,
    exec: (k) => ['ip', 'netns', 'exec', names[k]!],
    remove,
  };
}

/** One network namespace with addresses of its own on its loopback and its own ephemeral port range. */
export interface Namespace {
  name: string;
  /** The command prefix that runs a program in it. */
  exec: string[];
  remove(): void;
}

/**
 * A namespace named for this process, `addresses` (as /32s) on its `lo`, and
 * `net.ipv4.ip_local_port_range` set to `portRange` ("40000 40049") in it alone.
 */
export function makeNamespace(tag: string, addresses: readonly string[], portRange: string): Namespace {
  const name = `rb${process.pid % 100000}${tag}`;
  ip(['netns', 'add', name]);
  const remove = () => {
    try {
      ip(['netns', 'del', name]);
    } catch {
      // Already gone.
    }
  };
  try {
    ip(['link', 'set', 'lo', 'up'], name);
    for (const a of addresses) ip(['addr', 'add', `${a}/32`, 'dev', 'lo'], name);
    // /proc/sys/net is the namespace's own (as `sysctl -w` would write it).
    const r = spawnSync(
      'ip',
      ['netns', 'exec', name, 'sh', '-c', `echo '${portRange}' > /proc/sys/net/ipv4/ip_local_port_range`],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`ip_local_port_range in ${name}: ${r.stderr.trim()}`);
  } catch (e) {
    remove();
    throw e;
  }
  return { name, exec: ['ip', 'netns', 'exec', name], remove };
}
