import { z } from 'zod';
import { bitrateField, durationField, sizeField } from '../input/schema-units.js';
import { formatDurationMs } from '../input/units.js';
import { serverConfigSchema } from '../server/config.js';
import { VIEWER_PROTOCOLS } from '../protocol/delivery.js';
import { parseThreshold } from '../results/thresholds.js';
import { parseGateRule } from '../results/gates.js';
import type { Scenario, Stage } from '../results/scenario.js';

export type { Scenario, Stage } from '../results/scenario.js';

/**
 * A load scenario: what to run, against what, for how long, and what must hold. Scenario
 * files (YAML) and `rtmpbench run` flags both produce this shape; one schema validates both
 * and lists every problem with its path before any socket opens.
 */

const duration = durationField;
const bitrate = bitrateField;
const count = z.number().int().min(0);
/** A viewer group's name: reported apart under it (byGroup), so not a protocol's key. */
const groupName = z
  .string()
  .regex(/^[a-z][A-Za-z0-9]{0,31}$/, 'a name is a letter and up to 31 letters or digits, starting lower-case')
  .refine((v) => !['rtmp', 'httpFlv', 'wsFlv', 'hls'].includes(v), 'a protocol\'s key names its viewers already');
const playUrl = z
  .string()
  .regex(/^(rtmps?|https?|wss?):\/\/[^/]+\/.+/, 'must be a URL template such as http://{host}:{httpPort}/{app}/{stream}.flv')
  .refine((u) => u.includes('{stream}'), 'must name the stream: {stream}');

export const stageSchema = z
  .object({
    duration: duration().refine((v) => v > 0, 'a stage lasts more than 0 ms').describe('How long this stage lasts.'),
    target: count.describe('Players per stream to reach by the end of the stage (linearly from the previous stage).'),
  })
  .strict();

export const scenarioSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dots, dashes and underscores only').default('run').describe('Name of the run (the results folder is <time>-<name>).'),
    description: z.string().optional().describe('What the scenario is for, in a sentence.'),
    target: z
      .string()
      .refine((t) => t === 'builtin' || /^rtmps?:\/\/[^/]+\/[^/]+/.test(t), 'must be "builtin" or rtmp[s]://HOST[:PORT]/APP')
      .default('builtin')
      .describe('rtmp[s]://HOST[:PORT]/APP to load, or "builtin": the built-in server started in its own process'),
    insecure: z.boolean().default(false).describe('Accept any TLS certificate (rtmps:// targets with self-signed certificates).'),
    server: z
      .record(z.string(), z.unknown())
      .superRefine((v, ctx) => {
        for (const i of serverSettingIssues(v)) ctx.addIssue({ code: 'custom', path: i.path, message: i.message });
      })
      .default({})
      .describe('Settings of the built-in server (the keys of `rtmpbench serve --config`).'),
    serverPid: z.number().int().min(1).optional().describe('Process id of the target server, to record its CPU and memory (the built-in one is known).'),
    serverCpuQuota: z
      .number()
      .min(0.01)
      .max(64)
      .optional()
      .describe('Hold every server the run starts (the built-in one, and those compare starts) to this many cores, 0.25 being a quarter of one (a cgroup of its own; Linux, root or a delegated cgroup)'),
    streams: z.number().int().min(1).max(100_000).default(1).describe('Number of streams (named STREAM0, STREAM1...).'),
    streamPrefix: z.string().regex(/^[A-Za-z0-9._-]*$/).default('stream').describe('Stream names are PREFIX0, PREFIX1...'),
    streamNames: z.array(z.string().min(1)).optional().describe('Explicit stream names (players-only runs against streams someone else publishes).'),
    publishers: z
      .object({
        count: count.optional().describe('Streams the generator publishes (default: all); 0 plays streams published by others.'),
        source: z.string().min(1).default('synthetic').describe('"synthetic" or the path of an FLV file (looped).'),
        codec: z.enum(['avc', 'hevc']).default('avc').describe('Video codec of the synthetic source; HEVC is sent as Enhanced RTMP.'),
        videoBitrate: bitrate().default(600_000).describe('Video bit rate of each publisher.'),
        audioBitrate: bitrate().default(64_000).describe('Audio bit rate of each publisher (0: no audio).'),
        fps: z.number().min(1).max(240).default(30).describe('Video frames per second.'),
        gop: duration().refine((v) => v > 0, 'the GOP lasts more than 0 ms').default(2000).describe('Keyframe interval.'),
        chunkSize: z.number().int().min(128).max(65536).default(4096).describe('Outgoing chunk size of publishers.'),
        restart: z
          .object({
            every: duration().refine((v) => v >= 1000, 'a publication lasts at least 1s').describe('How long each publication lasts before the publisher stops.'),
            pause: duration().default(1000).describe('How long the stream stays unpublished before the next publication.'),
            rename: z.boolean().default(false).describe('Publish under a new name each time (NAME-r1, NAME-r2...); viewers follow to the new name. Off: the same name again.'),
          })
          .strict()
          .optional()
          .describe('Publisher churn: every publisher stops and publishes again on this schedule (from the run start); viewers follow the stream across publications.'),
      })
      .strict()
      .prefault({}),
    players: z
      .object({
        perStream: count.default(10).describe('Players per stream (the total is this times the number of streams).'),
        slowPerStream: count.default(0).describe('Of those, players that read slowly (a token bucket), per stream.'),
        slowReadKbps: z.number().min(1).default(200).describe('Read rate of slow players, kbit/s.'),
        firstVideoWithin: duration()
          .refine((v) => v > 0, 'the bound is more than 0 ms')
          .optional()
          .describe('A viewer with no video (or no audio, where audio is sent) this long after play is failed; one that joined less than this before the end is too late to judge (default: three GOPs, at least 5s)'),
        protocol: z.enum(VIEWER_PROTOCOLS).default('rtmp').describe('How these viewers play: rtmp, http-flv, ws-flv or hls'),
        url: playUrl.optional().describe('URL template of these viewers, with {host}, {port} (RTMP), {httpPort}, {app} and {stream} (default: the built-in server\'s path for the protocol; needed for an HTTP protocol against another server)'),
        name: groupName.optional().describe('Reports these viewers\' latencies apart under this name (byGroup in the summary), besides the figures of all viewers.'),
      })
      .strict()
      .prefault({}),
    viewers: z
      .array(
        z
          .object({
            protocol: z.enum(VIEWER_PROTOCOLS).describe('rtmp, http-flv, ws-flv or hls'),
            perStream: count.describe('Viewers of this group per stream at the run\'s peak (they follow the stages in proportion).'),
            url: playUrl.optional().describe('URL template ({host}, {port}, {httpPort}, {app}, {stream}); default: the built-in server\'s path'),
            name: groupName.optional().describe('Reports this group\'s latencies apart under this name (byGroup in the summary).'),
            start: duration().optional().describe('This group joins on its own schedule: none of its viewers before this time from the run start, then all of them over its ramp, staying to the end (default: it follows the stages in proportion).'),
            ramp: duration().optional().describe('With start: the time its viewers take to join (default 1s).'),
          })
          .strict(),
      )
      .default([])
      .describe('More groups of viewers on the same streams, each with its protocol (players is the first group).'),
    httpPort: z.number().int().min(1).max(65535).optional().describe('HTTP port of an external target, for {httpPort} in play URLs.'),
    churn: z
      .object({
        joinsPerSecond: z.number().min(0).default(0).describe('Extra players joining per second (over all streams), on top of the steady ones.'),
        meanSessionTime: duration().default(30_000).describe('Mean time a churning player stays (exponentially distributed).'),
      })
      .strict()
      .prefault({}),
    stages: z.array(stageSchema).min(1).optional().describe('Players per stream over time; replaces duration and ramp when given.'),
    waves: z
      .object({
        perStream: count.refine((v) => v > 0, 'a wave has viewers').describe('Viewers per stream in each wave.'),
        count: z.number().int().min(1).max(10_000).default(3).describe('How many waves.'),
        ramp: duration().default(2000).describe('Time the viewers of a wave take to join.'),
        stay: duration().refine((v) => v > 0, 'a wave stays more than 0 ms').default(20_000).describe('How long a wave stays once joined.'),
        gap: duration().default(10_000).describe('Time with no wave between waves (its viewers leave at once).'),
      })
      .strict()
      .optional()
      .describe('Viewer waves (the two-wave method of finding leaks): N viewers per stream join, stay, all leave; repeat. Replaces stages, duration and ramp.'),
    duration: duration().default(30_000).describe('Length of the run.'),
    ramp: duration().default(0).describe('Players start spread over this time (publishers start first).'),
    warmup: duration().default(0).describe('Measurements before this time are left out of the statistics.'),
    leak: z
      .object({
        margin: sizeField(0).default(2048).describe('Growth of the server\'s memory per ended session judged a leak (the equivalence margin).'),
        warmup: duration().optional().describe('Samples before this are left out of the leak verdict (default: a quarter of the run, and until sessions have ended).'),
      })
      .strict()
      .prefault({})
      .describe('The leak verdict of the target server: its RSS and descriptors against the sessions that ended.'),
    hooks: z
      .object({
        before: z.string().regex(/^https?:\/\//, 'an http(s):// URL').optional().describe('URL fetched (GET) before the run starts; its answer is kept in the results (hooks/before.txt).'),
        after: z.string().regex(/^https?:\/\//, 'an http(s):// URL').optional().describe('URL fetched after the run ends, its answer kept likewise (for example SRS\'s /api/v1/valgrind?check=added).'),
      })
      .strict()
      .optional()
      .describe('Calls to make on the server around the run, where it offers them (memory checkers, heap dumps).'),
    stallThreshold: duration().default(1000).describe('A gap between video frames longer than this is counted as a stall.'),
    workers: z.union([z.literal('auto'), z.number().int().min(1).max(256)]).default('auto').describe('Worker threads; "auto" is one per core.'),
    thresholds: z
      .array(
        z
          .string()
          .min(1)
          .superRefine((expr, ctx) => {
            const t = parseThreshold(expr);
            if (typeof t === 'string') ctx.addIssue({ code: 'custom', message: t });
          }),
      )
      .default([])
      .describe('Conditions such as "latency.endToEnd.p99 < 250ms"; a failure makes the run exit 1.'),
    /**
     * Capacity search: the thresholds are checked every second while players ramp up; the run
     * stops once they have failed for `breakAfter` and reports the most players that passed.
     */
    capacity: z
      .object({ breakAfter: duration().default(3000) })
      .strict()
      .optional(),
    /** What `rtmpbench compare` runs: servers and/or a matrix of built-in server settings. */
    compare: z
      .object({
        /** Servers to compare: builtin, node-media-server, nginx-rtmp, or {name, url, start?}. */
        servers: z
          .array(
            z.union([
              z.enum(['builtin', 'node-media-server', 'nginx-rtmp']),
              z
                .object({
                  name: z.string().regex(/^[A-Za-z0-9._-]+$/),
                  url: z.string().regex(/^rtmps?:\/\/[^/]+\/[^/]+/, 'must be rtmp[s]://HOST[:PORT]/APP'),
                  start: z.string().min(1).optional().describe('Shell command that starts the server (stopped by PID afterwards); absent: already running.'),
                  playUrls: z
                    .object({ 'http-flv': playUrl.optional(), 'ws-flv': playUrl.optional(), hls: playUrl.optional() })
                    .strict()
                    .optional()
                    .describe('Where its HTTP viewers play, per protocol (URL templates); a protocol it does not serve is left out of its runs.'),
                })
                .strict(),
            ]),
          )
          .min(1)
          .default(['builtin']),
        /** Built-in server settings to vary: each key a list of values; every combination runs. */
        matrix: z
          .record(z.string(), z.array(z.union([z.string(), z.number(), z.boolean()])).min(1))
          .superRefine((m, ctx) => {
            for (const [key, values] of Object.entries(m)) {
              // An unknown setting once; a known one's values each.
              const asKey = serverSettingIssues({ [key]: values[0] }).find((i) => i.message.startsWith('not a server setting') || i.path[0] === 'port' || i.path[0] === 'host');
              if (asKey !== undefined) {
                ctx.addIssue({ code: 'custom', path: [key], message: asKey.message });
                continue;
              }
              values.forEach((value, i) => {
                for (const issue of serverSettingIssues({ [key]: value })) ctx.addIssue({ code: 'custom', path: [key, i], message: issue.message });
              });
            }
          })
          .default({}),
        /** Named sets of built-in server settings, each a variant of its own beside the matrix (or the default built-in server). */
        variants: z
          .array(
            z
              .object({
                name: z.string().regex(/^[A-Za-z0-9._=,:-]+$/, 'letters, digits and . _ = , : - only'),
                settings: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).superRefine((settings, ctx) => {
                  for (const issue of serverSettingIssues(settings)) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
                }),
              })
              .strict(),
          )
          .default([])
          .describe('Named sets of built-in server settings, each run as a variant of its own (beside the matrix, or beside the built-in server with its defaults), e.g. [{name: merge-50, settings: {mergeWriteMs: 50}}].'),
        repeat: z.number().int().min(1).max(50).default(1).describe('Times each variant runs; runs are interleaved (A B C A B C) so drift hits all alike.'),
        baseline: z.string().optional().describe('Variant the others are compared with (default: the first).'),
        gate: z
          .array(
            z
              .string()
              .min(1)
              .superRefine((rule, ctx) => {
                const g = parseGateRule(rule);
                if (typeof g === 'string') ctx.addIssue({ code: 'custom', message: g });
              }),
          )
          .default([])
          .describe('How much worse than the baseline a variant may get, e.g. "latency.endToEnd.p99 +10%" or "latency.firstFrame.p95 +50ms"; a significant worsening beyond it makes compare exit 1.'),
      })
      .strict()
      .optional(),
  })
  .strict()
  // Checks across fields. They run even when other fields are wrong (so a file's problems are
  // all listed at once), each only on the values that are valid.
  .superRefine(
    (s, ctx) => {
      const n = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
      const streams = s.streams;
      const pubs = s.publishers?.count ?? streams;
      if (n(pubs) && n(streams) && pubs > streams) ctx.addIssue({ code: 'custom', path: ['publishers', 'count'], message: `cannot publish ${pubs} streams when there are ${streams}` });
      if (Array.isArray(s.streamNames) && n(streams) && s.streamNames.length !== streams) {
        ctx.addIssue({ code: 'custom', path: ['streamNames'], message: `${s.streamNames.length} names for ${streams} streams` });
      }
      if (s.waves !== undefined && s.stages !== undefined) ctx.addIssue({ code: 'custom', path: ['waves'], message: 'waves and stages both say when viewers come: give one of them' });
      if (s.stages === undefined && s.waves === undefined && n(s.duration)) {
        if (s.duration < 1000) ctx.addIssue({ code: 'custom', path: ['duration'], message: 'a run lasts at least 1s' });
        if (n(s.ramp) && s.ramp >= s.duration) {
          ctx.addIssue({ code: 'custom', path: ['ramp'], message: `the ramp (${formatDurationMs(s.ramp)}) must end before the run does (${formatDurationMs(s.duration)}); set a shorter ramp` });
        }
      }
      const stages = Array.isArray(s.stages) && s.stages.every((st) => n(st?.target) && n(st?.duration)) ? s.stages : null;
      const peak = stages !== null ? Math.max(...stages.map((st) => st.target)) : s.stages === undefined ? s.players?.perStream : undefined;
      const slow = s.players?.slowPerStream;
      if (n(slow) && n(peak) && slow > peak) {
        ctx.addIssue({ code: 'custom', path: ['players', 'slowPerStream'], message: `${slow} slow players but at most ${peak} players per stream` });
      }
      const total = stages !== null ? stages.reduce((t, st) => t + st.duration, 0) : s.stages === undefined ? s.duration : undefined;
      if (n(s.warmup) && n(total) && s.warmup > 0 && s.warmup >= total) ctx.addIssue({ code: 'custom', path: ['warmup'], message: 'the warm-up must end before the run does' });
      if (s.capacity !== undefined && Array.isArray(s.thresholds) && s.thresholds.length === 0) {
        ctx.addIssue({ code: 'custom', path: ['capacity'], message: 'a capacity search needs thresholds to break' });
      }
      // Viewers over HTTP against another server need its URLs; the built-in server's are known.
      const external = typeof s.target === 'string' && s.target !== 'builtin';
      type GroupInput = { protocol?: unknown; url?: unknown; name?: unknown; start?: unknown; ramp?: unknown };
      const groups: [(string | number)[], GroupInput][] = [
        [['players'], s.players ?? {}],
        ...(Array.isArray(s.viewers) ? s.viewers.map((v, i): [(string | number)[], GroupInput] => [['viewers', i], v ?? {}]) : []),
      ];
      const named = new Set<unknown>();
      for (const [path, g] of groups) {
        if (g.name !== undefined && named.has(g.name)) ctx.addIssue({ code: 'custom', path: [...path, 'name'], message: `another group is named "${String(g.name)}"` });
        named.add(g.name);
        if (g.ramp !== undefined && g.start === undefined) ctx.addIssue({ code: 'custom', path: [...path, 'ramp'], message: 'a ramp of its own goes with a start of its own (start:)' });
        if (n(g.start) && n(total) && g.start + (n(g.ramp) ? g.ramp : 1000) >= total) {
          ctx.addIssue({ code: 'custom', path: [...path, 'start'], message: `the group must have joined (start + ramp) before the run ends (${formatDurationMs(total)})` });
        }
        if (external && g.protocol !== undefined && g.protocol !== 'rtmp' && g.url === undefined) {
          ctx.addIssue({ code: 'custom', path: [...path, 'url'], message: `${String(g.protocol)} viewers of an external target need a play URL (--play-url, or url:), e.g. http://{host}:8080/{app}/{stream}.flv` });
        }
        if (external && typeof g.url === 'string' && g.url.includes('{httpPort}') && s.httpPort === undefined) {
          ctx.addIssue({ code: 'custom', path: [...path, 'url'], message: 'uses {httpPort}: give the target\'s HTTP port (httpPort:)' });
        }
      }
    },
    { when: () => true },
  );

export type ScenarioInput = z.input<typeof scenarioSchema>;
type Parsed = z.output<typeof scenarioSchema>;

function stagesOf(s: Parsed): Stage[] {
  if (s.stages !== undefined) return s.stages.map((st) => ({ durationMs: st.duration, target: st.target }));
  if (s.waves !== undefined) {
    // Each wave: up over its ramp, held for its stay, all gone at once, then the gap.
    const w = s.waves;
    const out: Stage[] = [];
    for (let i = 0; i < w.count; i++) {
      out.push({ durationMs: Math.max(1, w.ramp), target: w.perStream }, { durationMs: w.stay, target: w.perStream }, { durationMs: 1, target: 0 });
      if (w.gap > 0) out.push({ durationMs: w.gap, target: 0 });
    }
    return out;
  }
  const out: Stage[] = [];
  if (s.ramp > 0) out.push({ durationMs: s.ramp, target: s.players.perStream });
  else out.push({ durationMs: 1, target: s.players.perStream });
  out.push({ durationMs: s.duration - (s.ramp > 0 ? s.ramp : 1), target: s.players.perStream });
  return out;
}

export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(scenario)';
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join('');
}

/** Problems with built-in server settings (as in `rtmpbench serve --config`), with their paths. */
function serverSettingIssues(settings: Record<string, unknown>): ScenarioIssue[] {
  const own: ScenarioIssue[] = [];
  const rest = { ...settings };
  for (const k of ['host', 'port'] as const) {
    if (rest[k] === undefined) continue;
    own.push({ path: [k], message: 'the run chooses the built-in server\'s address itself (a free loopback port)' });
    delete rest[k];
  }
  const r = serverConfigSchema.safeParse({ ...rest, port: 0 });
  if (r.success) return own;
  const known = Object.keys(serverConfigSchema.shape);
  return own.concat(r.error.issues.flatMap((i): ScenarioIssue[] => {
    const path = i.path.map((k) => (typeof k === 'number' ? k : String(k)));
    if (i.code !== 'unrecognized_keys') return [{ path, message: i.message }];
    return i.keys.map((key) => {
      const guess = closest(key, known);
      return { path: [key], message: `not a server setting${guess !== null ? ` (did you mean "${guess}"?)` : ''}` };
    });
  }));
}

/** The keys an object schema at `path` accepts (through defaults, optionals, arrays, records). */
function knownKeys(schema: z.ZodType, path: readonly (string | number)[]): string[] {
  let cur: unknown = schema;
  const def = (x: unknown) => (x as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
  const unwrap = (x: unknown): unknown => {
    for (;;) {
      const d = def(x);
      if (d.innerType !== undefined) x = d.innerType;
      else if (d.type === 'pipe') x = d.out;
      else return x;
    }
  };
  for (const k of path) {
    const d = def((cur = unwrap(cur)));
    if (d.type === 'object') cur = (d.shape as Record<string, unknown>)[String(k)];
    else if (d.type === 'array') cur = d.element;
    else if (d.type === 'record') cur = d.valueType;
    else if (d.type === 'union') cur = (d.options as unknown[]).find((o) => def(unwrap(o)).type === 'object');
    else return [];
    if (cur === undefined) return [];
  }
  const d = def(unwrap(cur));
  return d.type === 'object' ? Object.keys(d.shape as object) : [];
}

/** The candidate nearest to `word` by edit distance, if near enough to be a likely typo. */
function closest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return bestD <= Math.max(1, Math.floor(word.length / 3)) ? best : null;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/** One thing wrong with a scenario: where (the path of keys) and what. */
export interface ScenarioIssue {
  path: (string | number)[];
  message: string;
}

/**
 * Validates a scenario; returns it resolved, or every problem as "path: message" (and as
 * issues with their paths, so a file's problems can name their lines).
 */
export function resolveScenario(input: unknown): { scenario: Scenario; problems: []; issues: [] } | { scenario: null; problems: string[]; issues: ScenarioIssue[] } {
  const r = scenarioSchema.safeParse(input);
  if (!r.success) {
    const issues: ScenarioIssue[] = [];
    for (const i of r.error.issues) {
      const path = i.path.map((k) => (typeof k === 'number' ? k : String(k)));
      if (i.code !== 'unrecognized_keys') {
        issues.push({ path, message: i.message });
        continue;
      }
      // One problem per unknown key, with the key it most likely meant.
      const known = knownKeys(scenarioSchema, path);
      for (const key of i.keys) {
        const guess = closest(key, known);
        issues.push({ path: [...path, key], message: `unknown key${guess !== null ? ` (did you mean "${guess}"?)` : known.length > 0 ? ` (known here: ${known.join(', ')})` : ''}` });
      }
    }
    return { scenario: null, problems: issues.map((i) => `${formatPath(i.path)}: ${i.message}`), issues };
  }
  const s = r.data;
  const stages = stagesOf(s);
  return {
    scenario: {
      name: s.name,
      ...(s.description !== undefined ? { description: s.description } : {}),
      target: s.target,
      insecure: s.insecure,
      server: s.server,
      ...(s.serverPid !== undefined ? { serverPid: s.serverPid } : {}),
      ...(s.serverCpuQuota !== undefined ? { serverCpuQuota: s.serverCpuQuota } : {}),
      streamNames: s.streamNames ?? Array.from({ length: s.streams }, (_, i) => `${s.streamPrefix}${i}`),
      publishedStreams: s.publishers.count ?? s.streams,
      media: {
        source: s.publishers.source,
        codec: s.publishers.codec,
        videoBitrate: s.publishers.videoBitrate,
        audioBitrate: s.publishers.audioBitrate,
        fps: s.publishers.fps,
        gopMs: s.publishers.gop,
        chunkSize: s.publishers.chunkSize,
      },
      ...(s.publishers.restart !== undefined ? { restart: { everyMs: s.publishers.restart.every, pauseMs: s.publishers.restart.pause, rename: s.publishers.restart.rename } } : {}),
      players: {
        // Stages and waves count the players per stream themselves (other groups follow in proportion).
        perStream: s.stages !== undefined || s.waves !== undefined ? Math.max(0, ...stages.map((st) => st.target)) : s.players.perStream,
        slowPerStream: s.players.slowPerStream,
        slowReadKbps: s.players.slowReadKbps,
        ...(s.players.firstVideoWithin !== undefined ? { firstVideoWithinMs: s.players.firstVideoWithin } : {}),
        ...(s.players.protocol !== 'rtmp' ? { protocol: s.players.protocol } : {}),
        ...(s.players.url !== undefined ? { url: s.players.url } : {}),
        ...(s.players.name !== undefined ? { name: s.players.name } : {}),
      },
      ...(s.viewers.length > 0
        ? {
            viewers: s.viewers.map((v) => ({
              protocol: v.protocol,
              perStream: v.perStream,
              ...(v.url !== undefined ? { url: v.url } : {}),
              ...(v.name !== undefined ? { name: v.name } : {}),
              ...(v.start !== undefined ? { startMs: v.start, rampMs: v.ramp ?? 1000 } : {}),
            })),
          }
        : {}),
      ...(s.httpPort !== undefined ? { httpPort: s.httpPort } : {}),
      churn: { joinsPerSecond: s.churn.joinsPerSecond, meanSessionMs: s.churn.meanSessionTime },
      stages,
      durationMs: stages.reduce((t, st) => t + st.durationMs, 0),
      warmupMs: s.warmup,
      stallThresholdMs: s.stallThreshold,
      ...(s.hooks !== undefined ? { hooks: s.hooks } : {}),
      leak: { marginBytesPerSession: s.leak.margin, ...(s.leak.warmup !== undefined ? { warmupMs: s.leak.warmup } : {}) },
      workers: s.workers,
      thresholds: s.thresholds,
      ...(s.capacity !== undefined ? { capacity: { breakAfterMs: s.capacity.breakAfter } } : {}),
      ...(s.compare !== undefined
        ? {
            compare: {
              servers: s.compare.servers.map((x) => (typeof x === 'string' ? x : { name: x.name, url: x.url, ...(x.start !== undefined ? { start: x.start } : {}), ...(x.playUrls !== undefined ? { playUrls: x.playUrls } : {}) })),
              matrix: s.compare.matrix,
              ...(s.compare.variants.length > 0 ? { variants: s.compare.variants.map((v) => ({ name: v.name, settings: v.settings })) } : {}),
              repeat: s.compare.repeat,
              ...(s.compare.baseline !== undefined ? { baseline: s.compare.baseline } : {}),
              ...(s.compare.gate.length > 0 ? { gate: s.compare.gate } : {}),
            },
          }
        : {}),
    },
    problems: [],
    issues: [],
  };
}
