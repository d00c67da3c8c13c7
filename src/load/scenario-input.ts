import { fieldAt, fieldHelp, flagValue, valueName, type FieldInfo } from '../input/schema-fields.js';
import { UsageError } from '../input/usage-error.js';
import { parseSize } from '../input/units.js';
import { parseRtmpUrl } from '../client/url.js';
import { cpuQuotaUnavailable } from '../proc/cpu-quota.js';
import { deepMerge, readScenarioFile, resolveScenarioPath, type ScenarioFile } from './scenario-file.js';
import { formatPath, resolveScenario, scenarioSchema, type Scenario } from './scenario.js';

/**
 * A scenario from a file (a path or a shipped name; quickstart by default) and flags that
 * override it, as `run`, `compare` and `profile` take them. Each flag is one row of
 * `SCENARIO_FLAGS`: its name and the scenario field it sets; its value's form, its help and its
 * default come from the scenario schema.
 */

export interface ScenarioFlag {
  /** The flag without its dashes: --players is "players". */
  name: string;
  /** The scenario field it sets (dotted path). */
  path: string;
  /** `list`: repeat for several values; `append`: repeats add to the file's list; `settings`: KEY=VALUE pairs. */
  repeat?: 'list' | 'append' | 'settings';
  /** Help, where the field's own description does not say what the flag does. */
  help?: string;
  /** The value's placeholder in help, where the field's kind does not say it well. */
  value?: string;
}

export const SCENARIO_FLAGS: readonly ScenarioFlag[] = [
  { name: 'target', path: 'target', value: 'url' },
  { name: 'name', path: 'name', value: 'name' },
  { name: 'streams', path: 'streams' },
  {
    name: 'stream',
    path: 'streamNames',
    repeat: 'list',
    value: 'name',
    help: 'a stream name (repeat for several; for streams others publish)',
  },
  { name: 'publishers', path: 'publishers.count' },
  { name: 'players', path: 'players.perStream', help: 'players PER STREAM (the total is this times --streams)' },
  { name: 'duration', path: 'duration' },
  { name: 'ramp', path: 'ramp' },
  { name: 'warmup', path: 'warmup' },
  { name: 'bitrate', path: 'publishers.videoBitrate' },
  { name: 'audio-bitrate', path: 'publishers.audioBitrate' },
  { name: 'fps', path: 'publishers.fps', value: 'n' },
  { name: 'gop', path: 'publishers.gop' },
  { name: 'source', path: 'publishers.source', value: 'synthetic|file.flv' },
  { name: 'codec', path: 'publishers.codec' },
  { name: 'insecure', path: 'insecure' },
  { name: 'slow-players', path: 'players.slowPerStream', help: 'players per stream that read slowly (a token bucket)' },
  { name: 'slow-read-kbps', path: 'players.slowReadKbps', value: 'kbps' },
  { name: 'first-video-within', path: 'players.firstVideoWithin' },
  { name: 'protocol', path: 'players.protocol', help: 'how the --players viewers play: rtmp, http-flv, ws-flv or hls' },
  {
    name: 'play-url',
    path: 'players.url',
    value: 'template',
    help:
      'URL template of the --players viewers: {host}, {port} (RTMP), {httpPort}, {app}, ' +
      '{stream}; needed for HTTP viewers of another server',
  },
  { name: 'http-port', path: 'httpPort', value: 'port' },
  { name: 'churn-rate', path: 'churn.joinsPerSecond', value: 'per-second' },
  { name: 'waves-count', path: 'waves.count', help: "how many viewer waves (the scenario's waves: section)" },
  { name: 'churn-session', path: 'churn.meanSessionTime' },
  { name: 'stall-threshold', path: 'stallThreshold' },
  { name: 'workers', path: 'workers' },
  {
    name: 'local-address',
    path: 'localAddresses',
    repeat: 'list',
    value: 'list',
    help:
      'source addresses to connect from, round-robin: addresses and CIDR ranges, comma-separated ' +
      '(e.g. 198.18.5.0/29,198.18.6.7); checked against the host and its ephemeral port range',
  },
  {
    name: 'server',
    path: 'server',
    repeat: 'settings',
    help: 'a built-in server setting, e.g. chunkSize=128 (repeat)',
  },
  { name: 'server-pid', path: 'serverPid', value: 'pid' },
  { name: 'server-cpu-quota', path: 'serverCpuQuota', value: 'cores' },
  {
    name: 'threshold',
    path: 'thresholds',
    repeat: 'append',
    value: 'expr',
    help:
      'a condition the run must meet, e.g. "latency.endToEnd.p99 < 250ms" (repeat; adds to the ' +
      "file's); exit 1 if it fails",
  },
];

/** A flag row with what the schema says of its field. */
export interface DescribedFlag extends Omit<ScenarioFlag, 'value'> {
  field: FieldInfo;
  /** The option's property name as a command-line parser gives it (camelCase of `name`). */
  key: string;
  /** `<value>` placeholder (null for a boolean switch). */
  value: string | null;
  helpText: string;
}

const camel = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export function describedScenarioFlags(): DescribedFlag[] {
  return SCENARIO_FLAGS.map((f) => {
    const field = fieldAt(scenarioSchema, f.path);
    if (field === null) throw new Error(`the scenario schema has no field ${f.path}`);
    // Command-line parsers read --no-X as "X off".
    if (f.name.startsWith('no-')) throw new Error(`--${f.name}: a flag may not start with "no-"`);
    const value =
      field.kind === 'boolean' ? null : (f.value ?? (f.repeat === 'settings' ? 'key=value' : valueName(field)));
    const helpText = f.help !== undefined ? f.help : fieldHelp(field);
    return { ...f, field, key: camel(f.name), value, helpText };
  });
}

/** Flag values as a command-line parser hands them over: strings, string lists, or true. */
export type FlagValues = Record<string, string | string[] | boolean | undefined>;

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let o = obj;
  for (const k of keys.slice(0, -1)) {
    o[k] ??= {};
    o = o[k] as Record<string, unknown>;
  }
  o[keys[keys.length - 1]!] = value;
}

/** "true"/"on" → true, numbers as numbers, sizes as bytes: a server setting as typed on a command line. */
function settingValue(raw: string): string | number | boolean {
  if (raw === 'true' || raw === 'on') return true;
  if (raw === 'false' || raw === 'off') return false;
  if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  return parseSize(raw) ?? raw;
}

/**
 * Flags into a partial scenario (the shape of a scenario file). Values stay as typed where the
 * schema reads units itself; flags that cannot be read are collected as problems.
 */
export function flagsToScenario(flags: FlagValues): { input: Record<string, unknown>; problems: string[] } {
  const input: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const f of describedScenarioFlags()) {
    const raw = flags[f.key];
    if (raw === undefined || raw === false) continue;
    const flag = `--${f.name}`;
    if (f.repeat === 'settings') {
      const settings: Record<string, unknown> = {};
      for (const kv of [raw].flat() as string[]) {
        const i = kv.indexOf('=');
        if (i <= 0) problems.push(`${flag}: "${kv}" is not KEY=VALUE (e.g. chunkSize=128)`);
        else settings[kv.slice(0, i)] = settingValue(kv.slice(i + 1));
      }
      setPath(input, f.path, settings);
    } else if (f.repeat !== undefined) {
      const list = [raw].flat() as string[];
      if (list.length > 0) setPath(input, f.path, list);
    } else if (raw === true) {
      setPath(input, f.path, true);
    } else if (f.name === 'target' && raw !== 'builtin') {
      try {
        parseRtmpUrl(String(raw));
        setPath(input, f.path, raw);
      } catch (e) {
        problems.push(`${flag}: ${(e as UsageError).reason ?? (e as Error).message}`);
      }
    } else {
      const v = flagValue(flag, f.field, String(raw));
      if ('problem' in v) problems.push(v.problem);
      else setPath(input, f.path, v.value);
    }
  }
  // Named streams: as many streams as names, unless --streams says otherwise.
  if (Array.isArray(input.streamNames)) input.streams ??= input.streamNames.length;
  return { input, problems };
}

export interface ScenarioInputOptions {
  /** A `compare` section to lay over the file's (comparison flags). */
  compare?: Record<string, unknown>;
}

/** Scenario file (default quickstart) + flags → a validated scenario, or every problem (file lines first). */
export function scenarioFromInput(
  file: string | undefined,
  flags: FlagValues,
  extra: ScenarioInputOptions = {},
): { scenario: Scenario | null; problems: string[] } {
  const problems: string[] = [];
  let source: ScenarioFile;
  try {
    source = readScenarioFile(resolveScenarioPath(file ?? 'quickstart'));
  } catch (e) {
    if (e instanceof UsageError) return { scenario: null, problems: [e.reason] };
    throw e;
  }
  const base = source.data;
  const fromFlags = flagsToScenario(flags);
  problems.push(...fromFlags.problems);
  const merged = deepMerge(base, fromFlags.input);
  // Comparison flags replace the file's entries whole (a --matrix replaces the matrix).
  if (extra.compare !== undefined)
    merged.compare = { ...((merged.compare as object | undefined) ?? {}), ...extra.compare };
  // Thresholds from flags add to the file's.
  if (Array.isArray(base.thresholds) && Array.isArray(fromFlags.input.thresholds))
    merged.thresholds = [...base.thresholds, ...fromFlags.input.thresholds];
  // Changing the target from the command line drops the file's built-in server settings.
  if (fromFlags.input.target !== undefined && fromFlags.input.target !== 'builtin') delete merged.server;
  const r = resolveScenario(merged);
  // A quota needs a cgroup this process may write: said before anything starts.
  if (r.scenario?.serverCpuQuota !== undefined) {
    const why = cpuQuotaUnavailable();
    if (why !== null) problems.push(`serverCpuQuota: ${why}`);
  }
  // A problem with a value the file wrote names its line; they are listed in file order.
  const located = r.issues.map((i) => ({
    line: source.lineOf(i.path) ?? Infinity,
    text: `${where(source, i.path, fromFlags.input)}${formatPath(i.path)}: ${i.message}`,
  }));
  problems.push(...located.sort((a, b) => a.line - b.line).map((x) => x.text));
  return { scenario: problems.length === 0 ? r.scenario : null, problems };
}

/** "FILE:LINE: " when the value at `keys` comes from the file (not from a flag), else "". */
function where(file: ScenarioFile, keys: readonly (string | number)[], fromFlags: Record<string, unknown>): string {
  let v: unknown = fromFlags;
  for (const k of keys) {
    if (v === null || typeof v !== 'object') break;
    v = (v as Record<string, unknown>)[String(k)];
    if (v !== undefined && (typeof v !== 'object' || v === null || Array.isArray(v))) return ''; // set by a flag
    if (v === undefined) break;
  }
  const line = file.lineOf(keys);
  return line === null ? `${file.path}: ` : `${file.path}:${line}: `;
}

/** `--shard I/N`: this machine's share of a run spread over N. */
export function parseShard(v: string): { index: number; count: number } | null {
  const m = /^(\d+)\/(\d+)$/.exec(v.trim());
  if (!m) return null;
  const index = Number(m[1]);
  const count = Number(m[2]);
  return count >= 1 && index < count ? { index, count } : null;
}
