import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { UsageError } from '../input/usage-error.js';
import { sizeField } from '../input/schema-units.js';

export const BACKPRESSURE_POLICIES = ['none', 'drop-to-keyframe', 'priority-drop', 'disconnect'] as const;
export type BackpressurePolicy = (typeof BACKPRESSURE_POLICIES)[number];

const port = z.number().int().min(0).max(65535);

/** A byte count: a number, or a string with a unit ("64k", "2m"; powers of 1024). */
const bytes = sizeField;

/**
 * Every setting of the built-in server, defined once: each is a key of the optional config file
 * (camelCase, YAML or JSON), a `serve` flag (kebab-case; its help and default come from here),
 * a key of a scenario's `server` section and of a comparison's matrix.
 */
export const serverConfigSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1').describe('address to listen on'),
    port: port.default(1935).describe('RTMP port, 0 for any free port'),
    chunkSize: bytes(128, 65536).default(4096).describe('outgoing chunk size, 128..65536'),
    gopCache: z.boolean().default(true).describe('send joiners the frames since the last keyframe'),
    gopCacheMaxFrames: z.number().int().min(1).default(600).describe('GOP cache cap in video frames'),
    gopCacheMaxBytes: bytes(1024)
      .default(16 * 1024 * 1024)
      .describe('GOP cache cap in bytes'),
    backpressure: z.enum(BACKPRESSURE_POLICIES).default('drop-to-keyframe').describe('slow-player policy'),
    maxQueuedBytes: bytes(16 * 1024)
      .default(2 * 1024 * 1024)
      .describe('per-player bound on queued bytes, socket buffer included'),
    disconnectGraceMs: z
      .number()
      .int()
      .min(0)
      .default(1000)
      .describe('with --backpressure disconnect: time over the bound before closing, ms'),
    tcpNodelay: z
      .boolean()
      .default(true)
      .describe(
        'TCP_NODELAY on peer sockets: on sends each write at once, off lets the kernel coalesce small writes (Nagle)',
      ),
    sharedReads: z
      .boolean()
      .default(true)
      .describe(
        'plain connections read into one shared buffer instead of a new buffer per read (far ' +
          'fewer major GCs under heavy ingest)',
      ),
    batchReads: z
      .boolean()
      .default(true)
      .describe(
        'what one read of a publisher brings goes to each player as one write at the end of the ' +
          'read, with no added delay (off: a write per message)',
      ),
    mergeWriteMs: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .default(0)
      .describe('flush each player at most every N ms as one vectored write; 0 = at once'),
    maxLagMs: z
      .number()
      .int()
      .min(0)
      .max(600_000)
      .default(5000)
      .describe(
        'most a player may be behind live, ms, measured by pings in its stream: beyond it its ' +
          'media is dropped (video to the next keyframe) until it catches up, whatever the socket ' +
          'buffers hold; a player that answers no pings has the byte bound alone; 0 = off (the byte bound alone)',
      ),
    burstBytes: bytes(0)
      .default(64 * 1024)
      .describe(
        'most bytes written to one player in one go beyond its first message: a joiner gets the ' +
          'GOP cache over the next fan-out passes, after the live frames of players already ' +
          'watching (0: all at once)',
      ),
    statsPort: port
      .optional()
      .describe('HTTP port for GET /stats (JSON) and GET /metrics (Prometheus); off when absent'),
    statsHost: z.string().min(1).optional().describe('address of the stats endpoint (default: host)'),
    httpPort: port
      .optional()
      .describe(
        'HTTP port for viewers: HTTP-FLV at /APP/STREAM.flv, WebSocket-FLV on the same path, HLS ' +
          'at /APP/STREAM/index.m3u8; off when absent',
      ),
    httpMaxConnections: z.number().int().min(1).default(10_000).describe('HTTP connections beyond this are refused'),
    hlsSegmentMs: z
      .number()
      .int()
      .min(500)
      .max(60_000)
      .default(2000)
      .describe('HLS target segment duration, ms: a segment ends at the first keyframe this long after its start'),
    hlsWindow: z.number().int().min(2).max(100).default(6).describe('HLS segments listed in the playlist'),
    hlsPartMs: z
      .number()
      .int()
      .min(0)
      .max(5000)
      .default(0)
      .refine((v) => v === 0 || v >= 50, 'hlsPartMs is 0 (off) or at least 50')
      .describe(
        'LL-HLS part target duration, ms (0: classic HLS): segments are also cut into MPEG-TS parts this ' +
          'long, listed with EXT-X-PART and a preload hint, and playlist requests may block (_HLS_msn, _HLS_part)',
      ),
    hlsMaxHeldRequests: z
      .number()
      .int()
      .min(1)
      .default(5000)
      .describe(
        'LL-HLS requests held at once, in all streams (blocking playlist reloads and preload-hinted parts ' +
          'waiting for their part); more get 503 with Retry-After',
      ),
    hlsOnDemand: z
      .boolean()
      .default(true)
      .describe(
        'mux a stream into HLS from its first HLS request until requests stop (off: from the ' +
          'publish on, as nginx-rtmp does)',
      ),
    hlsMaxStreamBytes: bytes(256 * 1024)
      .default(64 * 1024 * 1024)
      .describe('HLS segments held per stream, bytes (oldest go first)'),
    hlsMaxBytes: bytes(256 * 1024)
      .default(512 * 1024 * 1024)
      .describe('HLS segments held in all streams, bytes (oldest of the largest stream go first)'),
    maxConnections: z.number().int().min(1).default(10_000).describe('connections beyond this are refused'),
    maxMessageBytes: bytes(1024, 0xffffff)
      .default(8 * 1024 * 1024)
      .describe('largest message a peer may send'),
    maxCommandBytes: bytes(1024, 0xffffff)
      .default(16 * 1024)
      .describe(
        'largest message a peer may send before it publishes (commands and control; a connect ' +
          'with Enhanced RTMP lists is a few KB), and most bytes of its unfinished messages until then',
      ),
    maxPartialBytes: bytes(1024)
      .default(16 * 1024 * 1024)
      .describe(
        'most bytes of unfinished messages one publisher may hold, counted by their declared ' +
          'lengths (at least maxMessageBytes)',
      ),
    maxServerPartialBytes: bytes(1024)
      .default(256 * 1024 * 1024)
      .describe('most bytes of unfinished messages all peers together may hold, counted by declared lengths'),
    maxConnectionsPerAddress: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('connections from one source address beyond this are refused; 0 = no limit'),
    maxChunkStreams: z.number().int().min(2).default(64).describe('most chunk streams a peer may open'),
    handshakeTimeoutMs: z
      .number()
      .int()
      .min(100)
      .default(5000)
      .describe('close peers that have not finished the handshake after this many ms'),
    idleTimeoutMs: z
      .number()
      .int()
      .min(100)
      .default(30_000)
      .describe('close peers that send nothing, and publishers that send no media, for this many ms'),
    pingIntervalMs: z
      .number()
      .int()
      .min(0)
      .default(10_000)
      .describe('ping every peer this often, ms; 0 = never (answers keep players alive)'),
    windowAckSize: bytes(1)
      .default(2_500_000)
      .describe('Window Acknowledgement Size and peer bandwidth announced to every peer'),
    publishToken: z
      .string()
      .min(1)
      .optional()
      .describe('require ?token=TOKEN on the stream key (or the app) to publish'),
    playToken: z.string().min(1).optional().describe('require ?token=TOKEN on the stream key (or the app) to play'),
    tlsPort: port.optional().describe('also listen for RTMPS on this port (needs tlsCert and tlsKey)'),
    tlsCert: z.string().min(1).optional().describe('PEM certificate for RTMPS'),
    tlsKey: z.string().min(1).optional().describe('PEM private key for RTMPS'),
    poolMaxBytes: bytes(0)
      .default(32 * 1024 * 1024)
      .describe('most bytes the buffer pool keeps for reuse; beyond it, buffers go to the GC'),
    logLevel: z.enum(['error', 'warn', 'info', 'debug']).default('info').describe('log level'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.hlsPartMs > 0 && 2 * c.hlsPartMs > c.hlsSegmentMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['hlsPartMs'],
        message: `hlsPartMs (${c.hlsPartMs}) must be at most half of hlsSegmentMs (${c.hlsSegmentMs})`,
      });
    }
    if (c.tlsPort !== undefined && (c.tlsCert === undefined || c.tlsKey === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['tlsPort'], message: 'tlsPort needs tlsCert and tlsKey' });
    }
    if (c.maxPartialBytes < c.maxMessageBytes) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxPartialBytes'],
        message: `maxPartialBytes (${c.maxPartialBytes}) must be at least maxMessageBytes (${c.maxMessageBytes})`,
      });
    }
    if (c.maxServerPartialBytes < c.maxPartialBytes) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxServerPartialBytes'],
        message: `maxServerPartialBytes (${c.maxServerPartialBytes}) must be at least maxPartialBytes (${c.maxPartialBytes})`,
      });
    }
  });

export type ServerConfig = z.output<typeof serverConfigSchema>;
export type ServerConfigInput = z.input<typeof serverConfigSchema>;

/** Batched reads apply: publishers' reads are flushed to players as they end (no merge timer). */
export function flushesPerRead(c: Pick<ServerConfig, 'mergeWriteMs' | 'batchReads'>): boolean {
  return c.mergeWriteMs === 0 && c.batchReads;
}

/** Formats zod issues as one line each: `path: message`. */
function formatIssues(issues: readonly z.core.$ZodIssue[], prefix = ''): string[] {
  return issues.map((i) => {
    const path = i.path.length > 0 ? `${prefix}${i.path.map(String).join('.')}` : prefix.replace(/\.$/, '') || '(root)';
    return `${path}: ${i.message}`;
  });
}

/**
 * Validates settings; throws a UsageError listing every problem (with `earlier` problems,
 * such as unparseable flags, first).
 */
export function resolveServerConfig(input: ServerConfigInput, earlier: string[] = []): ServerConfig {
  const result = serverConfigSchema.safeParse(input);
  const problems = [...earlier, ...(result.success ? [] : formatIssues(result.error.issues))];
  if (problems.length > 0 || !result.success) {
    throw new UsageError(`invalid server settings:\n  ${problems.join('\n  ')}`);
  }
  return result.data;
}

/** Reads a YAML or JSON config file into raw settings (validated later, merged with flags). */
export function readServerConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read config file ${path}: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (e) {
    throw new UsageError(`config file ${path} is not valid YAML/JSON: ${(e as Error).message}`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new UsageError(`config file ${path} must hold a mapping of settings`);
  }
  return data as Record<string, unknown>;
}
