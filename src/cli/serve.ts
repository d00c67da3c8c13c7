import type { Command } from 'commander';
import { readServerConfigFile, resolveServerConfig, BACKPRESSURE_POLICIES, type ServerConfigInput } from '../server/config.js';
import { RtmpServer } from '../server/server.js';
import { parseBytes, parseInteger, parseOnOff } from './parse.js';

interface ServeFlags {
  config?: string;
  host?: string;
  port?: string;
  chunkSize?: string;
  gopCache?: string;
  gopCacheMaxFrames?: string;
  gopCacheMaxBytes?: string;
  backpressure?: string;
  maxQueuedBytes?: string;
  disconnectGraceMs?: string;
  mergeWriteMs?: string;
  tcpNodelay?: string;
  sharedReads?: string;
  batchReads?: string;
  statsPort?: string;
  statsHost?: string;
  maxConnections?: string;
  maxMessageBytes?: string;
  maxChunkStreams?: string;
  handshakeTimeoutMs?: string;
  idleTimeoutMs?: string;
  pingIntervalMs?: string;
  windowAckSize?: string;
  publishToken?: string;
  playToken?: string;
  tlsPort?: string;
  tlsCert?: string;
  tlsKey?: string;
  poolMaxBytes?: string;
  logLevel?: string;
}

/**
 * Flags given on the command line, converted; absent flags stay absent (the file or defaults
 * apply). Every unparseable flag is collected in `problems`.
 */
export function flagsToSettings(f: ServeFlags): { settings: ServerConfigInput; problems: string[] } {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  const convert = (key: keyof ServeFlags, fn: () => unknown) => {
    if (f[key] === undefined) return;
    try {
      out[key] = fn();
    } catch (e) {
      problems.push((e as Error).message.replace(/^invalid argument: /, ''));
    }
  };
  const int = (key: keyof ServeFlags, flag: string) => convert(key, () => parseInteger(flag, f[key]!));
  const bytes = (key: keyof ServeFlags, flag: string) => convert(key, () => parseBytes(flag, f[key]!));
  if (f.host !== undefined) out.host = f.host;
  int('port', '--port');
  bytes('chunkSize', '--chunk-size');
  convert('gopCache', () => parseOnOff('--gop-cache', f.gopCache!));
  int('gopCacheMaxFrames', '--gop-cache-max-frames');
  bytes('gopCacheMaxBytes', '--gop-cache-max-bytes');
  if (f.backpressure !== undefined) out.backpressure = f.backpressure;
  bytes('maxQueuedBytes', '--max-queued-bytes');
  int('disconnectGraceMs', '--disconnect-grace-ms');
  int('mergeWriteMs', '--merge-write-ms');
  if (f.tcpNodelay !== undefined) convert('tcpNodelay', () => parseOnOff('--tcp-nodelay', f.tcpNodelay!));
  if (f.sharedReads !== undefined) convert('sharedReads', () => parseOnOff('--shared-reads', f.sharedReads!));
  if (f.batchReads !== undefined) convert('batchReads', () => parseOnOff('--batch-reads', f.batchReads!));
  int('statsPort', '--stats-port');
  if (f.statsHost !== undefined) out.statsHost = f.statsHost;
  int('maxConnections', '--max-connections');
  bytes('maxMessageBytes', '--max-message-bytes');
  int('maxChunkStreams', '--max-chunk-streams');
  int('handshakeTimeoutMs', '--handshake-timeout-ms');
  int('idleTimeoutMs', '--idle-timeout-ms');
  int('pingIntervalMs', '--ping-interval-ms');
  bytes('windowAckSize', '--window-ack-size');
  bytes('poolMaxBytes', '--pool-max-bytes');
  for (const k of ['publishToken', 'playToken', 'tlsCert', 'tlsKey', 'logLevel'] as const) if (f[k] !== undefined) out[k] = f[k];
  int('tlsPort', '--tls-port');
  return { settings: out as ServerConfigInput, problems };
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the built-in RTMP server (prints "listening rtmp://HOST:PORT" when ready; SIGINT/SIGTERM stop it cleanly)')
    .option('--config <file>', 'YAML or JSON file of settings (camelCase keys); flags override it')
    .option('--host <host>', 'address to listen on (default 127.0.0.1)')
    .option('--port <port>', 'RTMP port, 0 for any free port (default 1935)')
    .option('--chunk-size <bytes>', 'outgoing chunk size, 128..65536 (default 4096)')
    .option('--gop-cache <on|off>', 'send joiners the frames since the last keyframe (default on)')
    .option('--gop-cache-max-frames <n>', 'GOP cache cap in video frames (default 600)')
    .option('--gop-cache-max-bytes <bytes>', 'GOP cache cap in bytes (default 16m)')
    .option('--backpressure <policy>', `slow-player policy: ${BACKPRESSURE_POLICIES.join(', ')} (default drop-to-keyframe)`)
    .option('--max-queued-bytes <bytes>', 'per-player bound on queued bytes, socket buffer included (default 2m)')
    .option('--disconnect-grace-ms <ms>', 'with --backpressure disconnect: time over the bound before closing (default 1000)')
    .option('--merge-write-ms <ms>', 'flush each player at most every N ms as one vectored write; 0 = at once (default 0)')
    .option('--tcp-nodelay <on|off>', 'TCP_NODELAY on peer sockets: on sends each write at once, off lets the kernel coalesce (default on)')
    .option('--batch-reads <on|off>', 'what one read of a publisher brings goes to each player as one write, with no added delay (default on; off: a write per message)')
    .option('--shared-reads <on|off>', 'plain connections read into one shared buffer instead of a new buffer per read (default on)')
    .option('--stats-port <port>', 'HTTP port for GET /stats (JSON) and GET /metrics (Prometheus); off by default')
    .option('--stats-host <host>', 'address of the stats endpoint (default: --host)')
    .option('--max-connections <n>', 'connections beyond this are refused (default 10000)')
    .option('--max-message-bytes <bytes>', 'largest message a peer may send (default 8m)')
    .option('--max-chunk-streams <n>', 'most chunk streams a peer may open (default 64)')
    .option('--handshake-timeout-ms <ms>', 'close peers that have not finished the handshake (default 5000)')
    .option('--idle-timeout-ms <ms>', 'close peers that send nothing, and publishers that send no media (default 30000)')
    .option('--ping-interval-ms <ms>', 'ping every peer this often; 0 = never (default 10000)')
    .option('--window-ack-size <bytes>', 'Window Acknowledgement Size and peer bandwidth announced (default 2500000)')
    .option('--publish-token <token>', 'require ?token=TOKEN on the stream key (or the app) to publish')
    .option('--play-token <token>', 'require ?token=TOKEN on the stream key (or the app) to play')
    .option('--tls-port <port>', 'also listen for RTMPS on this port (needs --tls-cert and --tls-key)')
    .option('--tls-cert <file>', 'PEM certificate for RTMPS')
    .option('--tls-key <file>', 'PEM private key for RTMPS')
    .option('--pool-max-bytes <bytes>', 'most bytes the buffer pool keeps for reuse (default 32m)')
    .option('--log-level <level>', 'error, warn, info or debug (default info)')
    .action(async (flags: ServeFlags) => {
      const fromFile = flags.config !== undefined ? readServerConfigFile(flags.config) : {};
      const { settings, problems } = flagsToSettings(flags);
      const config = resolveServerConfig({ ...fromFile, ...settings } as ServerConfigInput, problems);
      const server = new RtmpServer(config);
      // Signal handlers go in before the listening line: a supervisor may signal right after it.
      let stopping = false;
      let stopped!: () => void;
      const done = new Promise<void>((r) => (stopped = r));
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) {
          server.logger.warn('second signal: exiting now', { signal });
          process.exit(0);
        }
        stopping = true;
        server.logger.info('shutting down', { signal });
        void server.close().then(stopped);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      const addr = await server.listen();
      process.stdout.write(`listening rtmp://${addr.host}:${addr.port}\n`);
      if (addr.tlsPort !== undefined) server.logger.info('listening', { url: `rtmps://${addr.host}:${addr.tlsPort}` });
      if (addr.statsPort !== undefined) server.logger.info('stats', { url: `http://${config.statsHost ?? addr.host}:${addr.statsPort}/stats` });
      await done;
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    });
}
