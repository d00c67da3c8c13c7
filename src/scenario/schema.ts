import { z } from 'zod';
import { bitrateField, durationField, sizeField } from '../input/schema-units.js';
import { expandAddressList, MAX_SOURCE_ADDRESSES } from '../input/address-list.js';
import { formatDurationMs } from '../input/units.js';
import { BROWSER_PROTOCOLS, VIEWER_PROTOCOLS } from '../protocol/delivery.js';
import { serverSettingIssues } from './server-settings.js';

/**
 * A load scenario, defined once: what to run, against what, for how long, and what must hold.
 * Scenario files (YAML) and `rtmpbench run` flags both produce its input; the schema validates
 * it, lists every problem with its path before any socket opens, and transforms it into the
 * scenario a run uses (every default applied, units in ms and bit/s, in the names). That output
 * is part of the results contract: summary.json and compare.json record it, reports describe
 * runs from it. Flags, help, defaults and the JSON Schema of scenario files derive from it too.
 */

/**
 * Checks of the expressions a scenario holds, each returning what is wrong or null. Their grammar
 * belongs to the results (thresholds and gates name summary fields), above this layer: the
 * generator passes them in (src/load/scenario.ts). They add problems, never change the output.
 */
export interface ExpressionChecks {
  threshold(expression: string): string | null;
  gateRule(rule: string): string | null;
}

const duration = durationField;
const bitrate = bitrateField;
const count = z.number().int().min(0);
/** A viewer group's name: reported apart under it (byGroup), so not a protocol's key. */
const groupName = z
  .string()
  .regex(/^[a-z][A-Za-z0-9]{0,31}$/, 'a name is a letter and up to 31 letters or digits, starting lower-case')
  .refine((v) => !['rtmp', 'httpFlv', 'wsFlv', 'hls'].includes(v), "a protocol's key names its viewers already");
const playUrl = z
  .string()
  .regex(
    /^(rtmps?|https?|wss?):\/\/[^/]+\/.+/,
    'must be a URL template such as http://{host}:{httpPort}/{app}/{stream}.flv',
  )
  .refine((u) => u.includes('{stream}'), 'must name the stream: {stream}');

/** A viewer group's URL template. */
const groupUrl = playUrl
  .optional()
  .describe("URL template ({host}, {port}, {httpPort}, {app}, {stream}); default: the built-in server's path");

const stageSchema = z
  .object({
    duration: duration()
      .refine((v) => v > 0, 'a stage lasts more than 0 ms')
      .describe('How long this stage lasts.'),
    target: count.describe('Players per stream to reach by the end of the stage (linearly from the previous stage).'),
  })
  .strict();

/** A list of non-empty strings, each checked by `check` (null: fine; else the problem). */
function checkedStrings(check: (s: string) => string | null) {
  return z.array(
    z
      .string()
      .min(1)
      .superRefine((s, ctx) => {
        const problem = check(s);
        if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
      }),
  );
}

/** The fields of a scenario file, each validated (and renamed where it is resolved alone). */
function scenarioFields(checks: ExpressionChecks) {
  return (
    z
      .object({
        name: z
          .string()
          .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dots, dashes and underscores only')
          .default('run')
          .describe('Name of the run (the results folder is <time>-<name>).'),
        description: z.string().optional().describe('What the scenario is for, in a sentence.'),
        target: z
          .string()
          .refine(
            (t) => t === 'builtin' || /^rtmps?:\/\/[^/]+\/[^/]+/.test(t),
            'must be "builtin" or rtmp[s]://HOST[:PORT]/APP',
          )
          .default('builtin')
          .describe('rtmp[s]://HOST[:PORT]/APP to load, or "builtin": the built-in server started in its own process'),
        insecure: z
          .boolean()
          .default(false)
          .describe('Accept any TLS certificate (rtmps:// targets with self-signed certificates).'),
        server: z
          .record(z.string(), z.unknown())
          .superRefine((v, ctx) => {
            for (const i of serverSettingIssues(v)) ctx.addIssue({ code: 'custom', path: i.path, message: i.message });
          })
          .default({})
          .describe('Settings of the built-in server (the keys of `rtmpbench serve --config`).'),
        serverPid: z
          .number()
          .int()
          .min(1)
          .optional()
          .describe('Process id of the target server, to record its CPU and memory (the built-in one is known).'),
        serverCpuQuota: z
          .number()
          .min(0.01)
          .max(64)
          .optional()
          .describe(
            'Hold every server the run starts (the built-in one, and those compare starts) to this ' +
              'many cores, 0.25 being a quarter of one (a cgroup of its own; Linux, root or a ' +
              'delegated cgroup)',
          ),
        streams: z
          .number()
          .int()
          .min(1)
          .max(100_000)
          .default(1)
          .describe('Number of streams (named STREAM0, STREAM1...).'),
        streamPrefix: z
          .string()
          .regex(/^[A-Za-z0-9._-]*$/)
          .default('stream')
          .describe('Stream names are PREFIX0, PREFIX1...'),
        streamNames: z
          .array(z.string().min(1))
          .optional()
          .describe('Explicit stream names (players-only runs against streams someone else publishes).'),
        publishers: z
          .object({
            count: count
              .optional()
              .describe('Streams the generator publishes (default: all); 0 plays streams published by others.'),
            source: z.string().min(1).default('synthetic').describe('"synthetic" or the path of an FLV file (looped).'),
            codec: z
              .enum(['avc', 'hevc'])
              .default('avc')
              .describe('Video codec of the synthetic source; HEVC is sent as Enhanced RTMP.'),
            videoBitrate: bitrate().default(600_000).describe('Video bit rate of each publisher.'),
            audioBitrate: bitrate().default(64_000).describe('Audio bit rate of each publisher (0: no audio).'),
            fps: z.number().min(1).max(240).default(30).describe('Video frames per second.'),
            gop: duration()
              .refine((v) => v > 0, 'the GOP lasts more than 0 ms')
              .default(2000)
              .describe('Keyframe interval.'),
            chunkSize: z
              .number()
              .int()
              .min(128)
              .max(65536)
              .default(4096)
              .describe('Outgoing chunk size of publishers.'),
            restart: z
              .object({
                every: duration()
                  .refine((v) => v >= 1000, 'a publication lasts at least 1s')
                  .describe('How long each publication lasts before the publisher stops.'),
                pause: duration()
                  .default(1000)
                  .describe('How long the stream stays unpublished before the next publication.'),
                rename: z
                  .boolean()
                  .default(false)
                  .describe(
                    'Publish under a new name each time (NAME-r1, NAME-r2...); viewers follow to the new ' +
                      'name. Off: the same name again.',
                  ),
              })
              .strict()
              .transform((r) => ({ everyMs: r.every, pauseMs: r.pause, rename: r.rename }))
              .optional()
              .describe(
                'Publisher churn: every publisher stops and publishes again on this schedule (from the ' +
                  'run start); viewers follow the stream across publications.',
              ),
          })
          .strict()
          .prefault({}),
        players: z
          .object({
            perStream: count
              .default(10)
              .describe('Players per stream (the total is this times the number of streams).'),
            slowPerStream: count
              .default(0)
              .describe('Of those, players that read slowly (a token bucket), per stream.'),
            slowReadKbps: z.number().min(1).default(200).describe('Read rate of slow players, kbit/s.'),
            firstVideoWithin: duration()
              .refine((v) => v > 0, 'the bound is more than 0 ms')
              .optional()
              .describe(
                'A viewer with no video (or no audio, where audio is sent) this long after play is ' +
                  'failed; one that joined less than this before the end is too late to judge (default: ' +
                  'three GOPs, at least 5s)',
              ),
            protocol: z
              .enum(VIEWER_PROTOCOLS)
              .default('rtmp')
              .describe('How these viewers play: rtmp, http-flv, ws-flv or hls'),
            url: playUrl
              .optional()
              .describe(
                'URL template of these viewers, with {host}, {port} (RTMP), {httpPort}, {app} and ' +
                  "{stream} (default: the built-in server's path for the protocol; needed for an HTTP " +
                  'protocol against another server)',
              ),
            name: groupName
              .optional()
              .describe(
                "Reports these viewers' latencies apart under this name (byGroup in the summary), " +
                  'besides the figures of all viewers.',
              ),
          })
          .strict()
          .transform((p) => ({
            perStream: p.perStream,
            slowPerStream: p.slowPerStream,
            slowReadKbps: p.slowReadKbps,
            // Absent: the run's default (three GOPs, at least 5s); also absent in results written before it.
            ...(p.firstVideoWithin !== undefined ? { firstVideoWithinMs: p.firstVideoWithin } : {}),
            // rtmp is the default: left out, as in results written before other protocols.
            ...(p.protocol !== 'rtmp' ? { protocol: p.protocol } : {}),
            ...(p.url !== undefined ? { url: p.url } : {}),
            ...(p.name !== undefined ? { name: p.name } : {}),
          }))
          .prefault({}),
        viewers: z
          .array(
            z
              .object({
                protocol: z.enum(VIEWER_PROTOCOLS).describe('rtmp, http-flv, ws-flv or hls'),
                perStream: count.describe(
                  "Viewers of this group per stream at the run's peak (they follow the stages in proportion).",
                ),
                url: groupUrl,
                name: groupName
                  .optional()
                  .describe("Reports this group's latencies apart under this name (byGroup in the summary)."),
                start: duration()
                  .optional()
                  .describe(
                    'This group joins on its own schedule: none of its viewers before this time from the run ' +
                      'start, then all of them over its ramp, staying to the end (default: it follows the ' +
                      'stages in proportion).',
                  ),
                ramp: duration().optional().describe('With start: the time its viewers take to join (default 1s).'),
              })
              .strict(),
          )
          .default([])
          .describe('More groups of viewers on the same streams, each with its protocol (players is the first group).'),
        browsers: z
          .array(
            z
              .object({
                protocol: z
                  .enum(BROWSER_PROTOCOLS)
                  .describe('hls or ll-hls (hls.js; ll-hls with its lowLatencyMode), http-flv or ws-flv (mpegts.js)'),
                perStream: count
                  .refine((v) => v > 0, 'a group of browser viewers has viewers')
                  .default(1)
                  .describe('Browser viewers of this group per stream (each a page of headless Chromium).'),
                url: groupUrl,
                name: groupName
                  .optional()
                  .describe('Reports this group under this name (default: PROTOCOL, as in browser.hls).'),
              })
              .strict(),
          )
          .default([])
          .describe(
            'Real players as viewers, in headless Chromium (hls.js, mpegts.js), for the whole run: what the ' +
              'player itself measures, beside the simulated viewers (docs/browser-viewers.md). They need a ' +
              'decodable stream (an FLV clip as the source).',
          ),
        httpPort: z
          .number()
          .int()
          .min(1)
          .max(65535)
          .optional()
          .describe('HTTP port of an external target, for {httpPort} in play URLs.'),
        churn: z
          .object({
            joinsPerSecond: z
              .number()
              .min(0)
              .default(0)
              .describe('Extra players joining per second (over all streams), on top of the steady ones.'),
            meanSessionTime: duration()
              .default(30_000)
              .describe('Mean time a churning player stays (exponentially distributed).'),
          })
          .strict()
          .transform((c) => ({ joinsPerSecond: c.joinsPerSecond, meanSessionMs: c.meanSessionTime }))
          .prefault({}),
        stages: z
          .array(stageSchema)
          .min(1)
          .optional()
          .describe('Players per stream over time; replaces duration and ramp when given.'),
        waves: z
          .object({
            perStream: count.refine((v) => v > 0, 'a wave has viewers').describe('Viewers per stream in each wave.'),
            count: z.number().int().min(1).max(10_000).default(3).describe('How many waves.'),
            ramp: duration().default(2000).describe('Time the viewers of a wave take to join.'),
            stay: duration()
              .refine((v) => v > 0, 'a wave stays more than 0 ms')
              .default(20_000)
              .describe('How long a wave stays once joined.'),
            gap: duration().default(10_000).describe('Time with no wave between waves (its viewers leave at once).'),
          })
          .strict()
          .optional()
          .describe(
            'Viewer waves (the two-wave method of finding leaks): N viewers per stream join, stay, ' +
              'all leave; repeat. Replaces stages, duration and ramp.',
          ),
        duration: duration().default(30_000).describe('Length of the run.'),
        ramp: duration().default(0).describe('Players start spread over this time (publishers start first).'),
        warmup: duration().default(0).describe('Measurements before this time are left out of the statistics.'),
        leak: z
          .object({
            margin: sizeField(0)
              .default(2048)
              .describe("Growth of the server's memory per ended session judged a leak (the equivalence margin)."),
            warmup: duration()
              .optional()
              .describe(
                'Samples before this are left out of the leak verdict (default: a quarter of the run, ' +
                  'and until sessions have ended).',
              ),
          })
          .strict()
          .transform((l) => ({
            marginBytesPerSession: l.margin,
            ...(l.warmup !== undefined ? { warmupMs: l.warmup } : {}),
          }))
          .prefault({})
          .describe('The leak verdict of the target server: its RSS and descriptors against the sessions that ended.'),
        hooks: z
          .object({
            before: z
              .string()
              .regex(/^https?:\/\//, 'an http(s):// URL')
              .optional()
              .describe(
                'URL fetched (GET) before the run starts; its answer is kept in the results (hooks/before.txt).',
              ),
            after: z
              .string()
              .regex(/^https?:\/\//, 'an http(s):// URL')
              .optional()
              .describe(
                "URL fetched after the run ends, its answer kept likewise (for example SRS's " +
                  '/api/v1/valgrind?check=added).',
              ),
          })
          .strict()
          .optional()
          .describe('Calls to make on the server around the run, where it offers them (memory checkers, heap dumps).'),
        stallThreshold: duration()
          .default(1000)
          .describe('A gap between video frames longer than this is counted as a stall.'),
        workers: z
          .union([z.literal('auto'), z.number().int().min(1).max(256)])
          .default('auto')
          .describe('Worker threads; "auto" is one per core.'),
        localAddresses: z
          .array(z.string())
          .superRefine((entries, ctx) => {
            for (const message of expandAddressList(entries).problems) ctx.addIssue({ code: 'custom', message });
          })
          .transform((entries) =>
            entries
              .flatMap((e) => e.split(','))
              .map((e) => e.trim())
              .filter((e) => e !== ''),
          )
          .optional()
          .describe(
            'Source addresses sessions connect from, round-robin: IPv4/IPv6 addresses and CIDR ranges ' +
              `(at most ${MAX_SOURCE_ADDRESSES} addresses), e.g. 198.18.5.0/29,198.18.6.7; each must be ` +
              "the host's, and each gives as many concurrent sessions as the ephemeral port range",
          ),
        thresholds: checkedStrings((expr) => checks.threshold(expr))
          .default([])
          .describe('Conditions such as "latency.endToEnd.p99 < 250ms"; a failure makes the run exit 1.'),
        /**
         * Capacity search: the thresholds are checked every second while players ramp up; the run
         * stops once they have failed for `breakAfter` and reports the most players that passed.
         */
        capacity: z
          .object({ breakAfter: duration().default(3000) })
          .strict()
          .transform((c) => ({ breakAfterMs: c.breakAfter }))
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
                      start: z
                        .string()
                        .min(1)
                        .optional()
                        .describe(
                          'Shell command that starts the server (stopped by PID afterwards); absent: already running.',
                        ),
                      playUrls: z
                        .object({
                          'http-flv': playUrl.optional(),
                          'ws-flv': playUrl.optional(),
                          hls: playUrl.optional(),
                        })
                        .strict()
                        .optional()
                        .describe(
                          'Where its HTTP viewers play, per protocol (URL templates); a protocol it does not serve ' +
                            'is left out of its runs.',
                        ),
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
                  const asKey = serverSettingIssues({ [key]: values[0] }).find(
                    (i) => i.message.startsWith('not a server setting') || i.path[0] === 'port' || i.path[0] === 'host',
                  );
                  if (asKey !== undefined) {
                    ctx.addIssue({ code: 'custom', path: [key], message: asKey.message });
                    continue;
                  }
                  values.forEach((value, i) => {
                    for (const issue of serverSettingIssues({ [key]: value }))
                      ctx.addIssue({ code: 'custom', path: [key, i], message: issue.message });
                  });
                }
              })
              .default({}),
            /**
             * Named sets of built-in server settings, each a variant of its own beside the matrix (or
             * the default built-in server).
             */
            variants: z
              .array(
                z
                  .object({
                    name: z.string().regex(/^[A-Za-z0-9._=,:-]+$/, 'letters, digits and . _ = , : - only'),
                    settings: z
                      .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
                      .superRefine((settings, ctx) => {
                        for (const issue of serverSettingIssues(settings))
                          ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
                      }),
                  })
                  .strict(),
              )
              .default([])
              .describe(
                'Named sets of built-in server settings, each run as a variant of its own (beside the ' +
                  'matrix, or beside the built-in server with its defaults), e.g. [{name: merge-50, ' +
                  'settings: {mergeWriteMs: 50}}].',
              ),
            repeat: z
              .number()
              .int()
              .min(1)
              .max(50)
              .default(1)
              .describe('Times each variant runs; runs are interleaved (A B C A B C) so drift hits all alike.'),
            baseline: z.string().optional().describe('Variant the others are compared with (default: the first).'),
            gate: checkedStrings((rule) => checks.gateRule(rule))
              .default([])
              .describe(
                'How much worse than the baseline a variant may get, e.g. "latency.endToEnd.p99 +10%" or ' +
                  '"latency.firstFrame.p95 +50ms"; a significant worsening beyond it makes compare exit 1.',
              ),
          })
          .strict()
          // Empty lists are left out, as in results written before them.
          .transform((c) => ({
            servers: c.servers,
            matrix: c.matrix,
            ...(c.variants.length > 0 ? { variants: c.variants } : {}),
            repeat: c.repeat,
            ...(c.baseline !== undefined ? { baseline: c.baseline } : {}),
            ...(c.gate.length > 0 ? { gate: c.gate } : {}),
          }))
          .optional(),
      })
      .strict()
      // Checks across fields. They run even when other fields are wrong (so a file's problems are
      // all listed at once), each only on the values that are valid. They see each field as its own
      // transform left it (the players' protocol left out when rtmp); what they read of stages,
      // waves and viewer groups is resolved after them, in resolve().
      .superRefine(
        (s, ctx) => {
          const n = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
          const streams = s.streams;
          const pubs = s.publishers?.count ?? streams;
          if (n(pubs) && n(streams) && pubs > streams)
            ctx.addIssue({
              code: 'custom',
              path: ['publishers', 'count'],
              message: `cannot publish ${pubs} streams when there are ${streams}`,
            });
          if (Array.isArray(s.streamNames) && n(streams) && s.streamNames.length !== streams) {
            ctx.addIssue({
              code: 'custom',
              path: ['streamNames'],
              message: `${s.streamNames.length} names for ${streams} streams`,
            });
          }
          if (
            Array.isArray(s.browsers) &&
            s.browsers.length > 0 &&
            (s.publishers?.source ?? 'synthetic') === 'synthetic'
          )
            if ((s.publishers?.count ?? streams) !== 0)
              ctx.addIssue({
                code: 'custom',
                path: ['browsers'],
                message:
                  "browser viewers decode what they play, and the synthetic source's frame bodies are filler no " +
                  'decoder can show: publish a real clip (--source clip.flv, or publishers.source)',
              });
          if (s.waves !== undefined && s.stages !== undefined)
            ctx.addIssue({
              code: 'custom',
              path: ['waves'],
              message: 'waves and stages both say when viewers come: give one of them',
            });
          if (s.stages === undefined && s.waves === undefined && n(s.duration)) {
            if (s.duration < 1000)
              ctx.addIssue({ code: 'custom', path: ['duration'], message: 'a run lasts at least 1s' });
            if (n(s.ramp) && s.ramp >= s.duration) {
              ctx.addIssue({
                code: 'custom',
                path: ['ramp'],
                message:
                  `the ramp (${formatDurationMs(s.ramp)}) must end before the run does ` +
                  `(${formatDurationMs(s.duration)}); set a shorter ramp`,
              });
            }
          }
          const stages =
            Array.isArray(s.stages) && s.stages.every((st) => n(st?.target) && n(st?.duration)) ? s.stages : null;
          const peak =
            stages !== null
              ? Math.max(...stages.map((st) => st.target))
              : s.stages === undefined
                ? s.players?.perStream
                : undefined;
          const slow = s.players?.slowPerStream;
          if (n(slow) && n(peak) && slow > peak) {
            ctx.addIssue({
              code: 'custom',
              path: ['players', 'slowPerStream'],
              message: `${slow} slow players but at most ${peak} players per stream`,
            });
          }
          const total =
            stages !== null
              ? stages.reduce((t, st) => t + st.duration, 0)
              : s.stages === undefined
                ? s.duration
                : undefined;
          if (n(s.warmup) && n(total) && s.warmup > 0 && s.warmup >= total)
            ctx.addIssue({ code: 'custom', path: ['warmup'], message: 'the warm-up must end before the run does' });
          if (s.capacity !== undefined && Array.isArray(s.thresholds) && s.thresholds.length === 0) {
            ctx.addIssue({
              code: 'custom',
              path: ['capacity'],
              message: 'a capacity search needs thresholds to break',
            });
          }
          // Viewers over HTTP against another server need its URLs; the built-in server's are known.
          const external = typeof s.target === 'string' && s.target !== 'builtin';
          type GroupInput = { protocol?: unknown; url?: unknown; name?: unknown; start?: unknown; ramp?: unknown };
          const groups: [(string | number)[], GroupInput][] = [
            [['players'], s.players ?? {}],
            ...(Array.isArray(s.viewers)
              ? s.viewers.map((v, i): [(string | number)[], GroupInput] => [['viewers', i], v ?? {}])
              : []),
          ];
          const named = new Set<unknown>();
          for (const [path, g] of groups) {
            if (g.name !== undefined && named.has(g.name))
              ctx.addIssue({
                code: 'custom',
                path: [...path, 'name'],
                message: `another group is named "${String(g.name)}"`,
              });
            named.add(g.name);
            if (g.ramp !== undefined && g.start === undefined)
              ctx.addIssue({
                code: 'custom',
                path: [...path, 'ramp'],
                message: 'a ramp of its own goes with a start of its own (start:)',
              });
            if (n(g.start) && n(total) && g.start + (n(g.ramp) ? g.ramp : 1000) >= total) {
              ctx.addIssue({
                code: 'custom',
                path: [...path, 'start'],
                message: `the group must have joined (start + ramp) before the run ends (${formatDurationMs(total)})`,
              });
            }
            if (external && g.protocol !== undefined && g.protocol !== 'rtmp' && g.url === undefined) {
              ctx.addIssue({
                code: 'custom',
                path: [...path, 'url'],
                message:
                  `${String(g.protocol)} viewers of an external target need a play URL (--play-url, or ` +
                  `url:), e.g. http://{host}:8080/{app}/{stream}.flv`,
              });
            }
            if (external && typeof g.url === 'string' && g.url.includes('{httpPort}') && s.httpPort === undefined) {
              ctx.addIssue({
                code: 'custom',
                path: [...path, 'url'],
                message: "uses {httpPort}: give the target's HTTP port (httpPort:)",
              });
            }
          }
        },
        { when: () => true },
      )
  );
}

/** The scenario schema: its input is a scenario file's, its output the scenario a run uses. */
export function scenarioSchemaWith(checks: ExpressionChecks) {
  return scenarioFields(checks).transform(resolve);
}

type Fields = z.output<ReturnType<typeof scenarioFields>>;

/** The validated fields into the scenario a run uses: streams named, stages laid out. */
function resolve(s: Fields) {
  const p = s.publishers;
  const stages = stagesOf(s);
  return {
    name: s.name,
    ...(s.description !== undefined ? { description: s.description } : {}),
    target: s.target,
    insecure: s.insecure,
    server: s.server,
    ...(s.serverPid !== undefined ? { serverPid: s.serverPid } : {}),
    ...(s.serverCpuQuota !== undefined ? { serverCpuQuota: s.serverCpuQuota } : {}),
    streamNames: s.streamNames ?? Array.from({ length: s.streams }, (_, i) => `${s.streamPrefix}${i}`),
    publishedStreams: p.count ?? s.streams,
    media: {
      source: p.source,
      codec: p.codec,
      videoBitrate: p.videoBitrate,
      audioBitrate: p.audioBitrate,
      fps: p.fps,
      gopMs: p.gop,
      chunkSize: p.chunkSize,
    },
    ...(p.restart !== undefined ? { restart: p.restart } : {}),
    // Stages and waves count the players per stream themselves (other groups follow in proportion).
    players: {
      ...s.players,
      perStream:
        s.stages !== undefined || s.waves !== undefined ? peakPlayersPerStream({ stages }) : s.players.perStream,
    },
    // A group with a start of its own joins from startMs over rampMs and stays; without, it follows the stages.
    ...(s.viewers.length > 0
      ? {
          viewers: s.viewers.map(({ start, ramp, ...g }) => ({
            ...g,
            ...(start !== undefined ? { startMs: start, rampMs: ramp ?? 1000 } : {}),
          })),
        }
      : {}),
    ...(s.browsers.length > 0 ? { browsers: s.browsers } : {}),
    ...(s.httpPort !== undefined ? { httpPort: s.httpPort } : {}),
    churn: s.churn,
    stages,
    durationMs: stages.reduce((t, st) => t + st.durationMs, 0),
    warmupMs: s.warmup,
    stallThresholdMs: s.stallThreshold,
    ...(s.hooks !== undefined ? { hooks: s.hooks } : {}),
    leak: s.leak,
    workers: s.workers,
    ...(s.localAddresses !== undefined ? { localAddresses: s.localAddresses } : {}),
    thresholds: s.thresholds,
    ...(s.capacity !== undefined ? { capacity: s.capacity } : {}),
    ...(s.compare !== undefined ? { compare: s.compare } : {}),
  };
}

/** A stage of the run as resolved (from stages, waves, or duration and ramp). */
export interface Stage {
  durationMs: number;
  /** Players per stream at the end of the stage. */
  target: number;
}

function stagesOf(s: Fields): Stage[] {
  if (s.stages !== undefined) return s.stages.map((st) => ({ durationMs: st.duration, target: st.target }));
  if (s.waves !== undefined) {
    // Each wave: up over its ramp, held for its stay, all gone at once, then the gap.
    const w = s.waves;
    const out: Stage[] = [];
    for (let i = 0; i < w.count; i++) {
      out.push(
        { durationMs: Math.max(1, w.ramp), target: w.perStream },
        { durationMs: w.stay, target: w.perStream },
        { durationMs: 1, target: 0 },
      );
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

/** A scenario as written (a file's, or flags laid over one). */
export type ScenarioInput = z.input<ReturnType<typeof scenarioSchemaWith>>;

/** A scenario as a run resolves it: the schema's output. */
export type ResolvedScenario = z.output<ReturnType<typeof scenarioSchemaWith>>;

/**
 * A scenario as results record it: the schema's output, where what summaries of schema version 1
 * written before a field existed lack stays optional to their readers (`leak`; the others the
 * schema leaves out when unset already).
 */
export type Scenario = Omit<ResolvedScenario, 'leak'> & Partial<Pick<ResolvedScenario, 'leak'>>;

/** More viewers on the same streams: on their own protocol, URL, name and schedule. */
export type ViewerGroup = NonNullable<Scenario['viewers']>[number];
export type ServerSpec = NonNullable<Scenario['compare']>['servers'][number];

/** Players per stream at the scenario's peak. */
export function peakPlayersPerStream(s: { stages: readonly Stage[] }): number {
  return Math.max(0, ...s.stages.map((st) => st.target));
}
