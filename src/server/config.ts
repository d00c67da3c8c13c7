import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { UsageError } from '../protocol/errors.js';
import { parseSize } from '../units.js';

export const BACKPRESSURE_POLICIES = ['none', 'drop-to-keyframe', 'priority-drop', 'disconnect'] as const;
export type BackpressurePolicy = (typeof BACKPRESSURE_POLICIES)[number];

const port = z.number().int().min(0).max(65535);

/** "64k", "2m" or a number; anything else is passed on for the number check to reject. */
export function sizeValue(v: unknown): unknown {
  return parseSize(v) ?? v;
}

/** A byte count: a number, or a string with a unit ("64k", "2m"; powers of 1024). */
const bytes = (min: number, max = Number.MAX_SAFE_INTEGER) => z.preprocess(sizeValue, z.number().int().min(min).max(max)).meta({ rtmpbenchUnit: 'size' });

/**
 * Every setting of the built-in server. Each is a `serve` flag (kebab-case) and a key of the
 * optional config file (camelCase, YAML or JSON).
 */
export const serverConfigSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: port.default(1935),
    /** Outgoing chunk size. */
    chunkSize: bytes(128, 65536).default(4096),
    gopCache: z.boolean().default(true),
    gopCacheMaxFrames: z.number().int().min(1).default(600),
    gopCacheMaxBytes: bytes(1024).default(16 * 1024 * 1024),
    backpressure: z.enum(BACKPRESSURE_POLICIES).default('drop-to-keyframe'),
    /** Per player: bytes queued by us plus bytes buffered in the socket. */
    maxQueuedBytes: bytes(16 * 1024).default(2 * 1024 * 1024),
    /** With `disconnect`: how long a player may stay over the bound before it is closed. */
    disconnectGraceMs: z.number().int().min(0).default(1000),
    /**
     * TCP_NODELAY on peer sockets: every write leaves at once (lowest latency); off lets the
     * kernel coalesce small writes (Nagle), fewer packets for less CPU.
     */
    tcpNodelay: z.boolean().default(true),
    /**
     * Plain connections read into one buffer shared by all (no allocation per read, far fewer
     * major GCs under heavy ingest); off gives every read its own buffer, as Node does.
     */
    sharedReads: z.boolean().default(true),
    /**
     * Messages decoded from one read of a publisher go to each player as one write, at the end
     * of that read: no added delay, and fewer writes exactly when the server falls behind (the
     * kernel then hands over several messages per read). Off: one write per message.
     */
    batchReads: z.boolean().default(true),
    /** Flush each player at most every N ms as one vectored write; 0 writes at once. */
    mergeWriteMs: z.number().int().min(0).max(1000).default(0),
    /** HTTP port for /stats and /metrics; off when absent. */
    statsPort: port.optional(),
    statsHost: z.string().min(1).optional(),
    maxConnections: z.number().int().min(1).default(10_000),
    maxMessageBytes: bytes(1024, 0xffffff).default(8 * 1024 * 1024),
    maxChunkStreams: z.number().int().min(2).default(64),
    handshakeTimeoutMs: z.number().int().min(100).default(5000),
    /** A peer that sends nothing (and a publisher that sends no media) for this long is closed. */
    idleTimeoutMs: z.number().int().min(100).default(30_000),
    /** Ping requests to every peer at this interval (0: never); answers keep players alive. */
    pingIntervalMs: z.number().int().min(0).default(10_000),
    /** Window Acknowledgement Size and Set Peer Bandwidth sent to every peer. */
    windowAckSize: bytes(1).default(2_500_000),
    publishToken: z.string().min(1).optional(),
    playToken: z.string().min(1).optional(),
    tlsPort: port.optional(),
    tlsCert: z.string().min(1).optional(),
    tlsKey: z.string().min(1).optional(),
    /** Most bytes the buffer pool keeps for reuse (free lists); beyond it, buffers go to the GC. */
    poolMaxBytes: bytes(0).default(32 * 1024 * 1024),
    logLevel: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.tlsPort !== undefined && (c.tlsCert === undefined || c.tlsKey === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['tlsPort'], message: 'tlsPort needs tlsCert and tlsKey' });
    }
  });

export type ServerConfig = z.output<typeof serverConfigSchema>;
export type ServerConfigInput = z.input<typeof serverConfigSchema>;

/** Batched reads apply: publishers' reads are flushed to players as they end (no merge timer). */
export function flushesPerRead(c: Pick<ServerConfig, 'mergeWriteMs' | 'batchReads'>): boolean {
  return c.mergeWriteMs === 0 && c.batchReads;
}

/** Formats zod issues as one line each: `path: message`. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], prefix = ''): string[] {
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
    throw new UsageError('RTMP_ERR_INVALID_ARGUMENT', `invalid server settings:\n  ${problems.join('\n  ')}`);
  }
  return result.data;
}

/** Reads a YAML or JSON config file into raw settings (validated later, merged with flags). */
export function readServerConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError('RTMP_ERR_INVALID_ARGUMENT', `cannot read config file ${path}: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (e) {
    throw new UsageError('RTMP_ERR_INVALID_ARGUMENT', `config file ${path} is not valid YAML/JSON: ${(e as Error).message}`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new UsageError('RTMP_ERR_INVALID_ARGUMENT', `config file ${path} must hold a mapping of settings`);
  }
  return data as Record<string, unknown>;
}
