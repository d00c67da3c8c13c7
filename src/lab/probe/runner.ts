import { parseRtmpUrl } from '../../client/url.js';
import { UsageError } from '../../input/usage-error.js';
import { probePort } from '../../proc/port.js';
import { countResults, type ProbeOutcome, type ProbeReport } from '../../results/probe.js';
import { VERSION } from '../../version.js';
import type { ProbeTarget } from './connection.js';
import { PROBE_NEEDS, ProbeContext, type ProbeDefinition, type ProbeNeed, type ProbeVerdict } from './context.js';
import { attackLimitMs, DEFAULT_ATTACK, type AttackSettings } from './attack/settings.js';
import { ProbeTimeoutError, SetupError, StepError, why } from './errors.js';
import { selectProbes } from './list.js';
import { ProbeMedia } from './media.js';
import { checkRelay, play, publish, sendAll } from './relay.js';

/**
 * Runs the probes against one server: a baseline check first (can it connect, publish,
 * relay?), then the probes, several at once, each with a time limit and fresh connections;
 * probes that may stop a fragile server run last, alone, each followed by a check that the
 * server still answers. The whole run of one server has a time budget (about a minute even
 * when the server never answers).
 */

export interface ProbeServerOptions {
  /** Probe ids, groups or `prefix*` (all probes when empty). */
  only?: string[];
  /**
   * Prefix of the stream names (default: the URL's stream, else rtmpbench-probe; each run and probe
   * adds its own suffix).
   */
  streamPrefix?: string;
  insecure?: boolean;
  /** Short name for reports (default host:port). */
  name?: string;
  /** Probes run at once (default 6). */
  concurrency?: number;
  /** How long one step waits for an answer (default 3000 ms). */
  waitMs?: number;
  /** Time for the whole server (default 55 s). */
  budgetMs?: number;
  /**
   * Bounds and targets of the attacks (resilience probes; defaults in attack/settings.ts): the
   * server's process, RSS bound, connections, time, RTMPS endpoint, HTTP outputs.
   */
  attack?: Partial<AttackSettings>;
  /**
   * The target is the user's own server: attacks may go to a host that is not loopback (without
   * it, resilience probes refuse such a host).
   */
  ownServer?: boolean;
  /** Called as each probe ends. */
  onProbe?: (outcome: ProbeOutcome, done: number, total: number) => void;
}

const DEFAULT_LIMIT_MS = 12_000;
const NEED_TEXT: Record<ProbeNeed, string> = {
  tcp: 'accept a TCP connection',
  connect: 'complete a handshake and answer connect',
  publish: 'accept a publisher',
  relay: "relay a publisher's media to a player",
};

/** Whether a host is this machine (127.0.0.0/8, ::1, localhost). */
function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** A stream-name suffix unique to this run (letters and digits). */
function runTag(): string {
  return `${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
}

/** How far the baseline got: the highest need met, and why the next one was not. */
interface Baseline {
  reached: ProbeNeed;
  reason: string;
}

async function baseline(target: ProbeTarget, prefix: string, waitMs: number): Promise<Baseline> {
  const ctx = new ProbeContext({ target, streamPrefix: prefix, index: 0, waitMs });
  let reached: ProbeNeed = 'tcp';
  try {
    await ctx.open();
    reached = 'connect';
    const name = ctx.streamName();
    // The plainest publisher there is: no Set Chunk Size, no releaseStream or FCPublish; what
    // each of those does is a probe of its own.
    const pub = await publish(ctx, name, { chunkSize: 128, fcPublish: false });
    reached = 'publish';
    const view = await play(ctx, name);
    const sent = new ProbeMedia().avcAacStream(3);
    sendAll(pub, sent);
    const c = await checkRelay(view, sent, waitMs);
    if (c.arrived === 0) return { reached, reason: `none of the frames of a plain AVC/AAC stream reached a player` };
    return { reached: 'relay', reason: '' };
  } catch (e) {
    return { reached, reason: why(e) };
  } finally {
    ctx.closeAll();
  }
}

/** Whether the server still completes a handshake and answers connect. */
async function alive(target: ProbeTarget, prefix: string, waitMs: number): Promise<string | null> {
  const ctx = new ProbeContext({ target, streamPrefix: prefix, index: 0, waitMs });
  try {
    await ctx.open();
    return null;
  } catch (e) {
    return why(e);
  } finally {
    ctx.closeAll();
  }
}

function outcomeOf(
  def: ProbeDefinition,
  v: ProbeVerdict,
  evidence: ProbeOutcome['evidence'],
  durationMs: number,
): ProbeOutcome {
  return {
    id: def.id,
    group: def.group,
    title: def.title,
    definition: def.definition,
    result: v.result,
    detail: v.detail,
    evidence,
    durationMs: Math.round(durationMs),
  };
}

/** Runs one probe within `limitMs`; never throws. */
async function runOne(def: ProbeDefinition, ctx: ProbeContext, limitMs: number): Promise<ProbeOutcome> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const running = def.run(ctx);
  running.catch(() => undefined);
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ProbeTimeoutError(`did not finish within ${Math.round(limitMs / 100) / 10} s`)),
      limitMs,
    );
  });
  let verdict: ProbeVerdict;
  try {
    verdict = await Promise.race([running, limit]);
  } catch (e) {
    if (e instanceof SetupError) verdict = { result: 'error', detail: `could not set up: ${e.reason}` };
    else if (e instanceof ProbeTimeoutError) verdict = { result: 'error', detail: e.reason };
    else if (e instanceof StepError) verdict = { result: 'fail', detail: e.reason };
    else verdict = { result: 'error', detail: `the probe itself failed: ${why(e)}` };
  } finally {
    clearTimeout(timer);
    ctx.closeAll();
  }
  ctx.note('bytes sent', ctx.bytesSent);
  return outcomeOf(def, verdict, ctx.evidence, performance.now() - started);
}

/** Probes one server; resolves with its report (never rejects for anything the server does). */
export async function probeServer(url: string, opts: ProbeServerOptions = {}): Promise<ProbeReport> {
  const parsed = parseRtmpUrl(url);
  const { probes, unknown } = selectProbes(opts.only);
  if (unknown.length > 0)
    throw new UsageError(
      `--only: no probe or group named ${unknown.map((u) => `"${u}"`).join(', ')} (rtmpbench probe --list shows them)`,
    );
  const attacks = probes.filter((p) => p.attack === true);
  if (attacks.length > 0 && !isLoopback(parsed.host) && opts.ownServer !== true)
    throw new UsageError(
      `resilience probes attack the server: ${parsed.host} is not a loopback address; ` +
        'run them against your own server only, and say so with --own-server',
    );
  const attack: AttackSettings = { ...DEFAULT_ATTACK, ...opts.attack };
  const target: ProbeTarget = { url: parsed, insecure: opts.insecure ?? false };
  const waitMs = opts.waitMs ?? 3000;
  const budgetMs = opts.budgetMs ?? 55_000 + attacks.length * attackLimitMs(attack, waitMs);
  const namePrefix = opts.streamPrefix ?? (parsed.stream !== '' ? parsed.stream : 'rtmpbench-probe');
  const prefix = `${namePrefix.replace(/[^A-Za-z0-9_-]/g, '-')}_${runTag()}`;
  const startedAt = new Date();
  const t0 = performance.now();
  const deadline = t0 + budgetMs;
  const report = (outcomes: ProbeOutcome[], unreachable: string | null): ProbeReport => {
    const ordered = probes
      .map((p) => outcomes.find((o) => o.id === p.id))
      .filter((o): o is ProbeOutcome => o !== undefined);
    return {
      target: url,
      name: opts.name ?? `${parsed.host}:${parsed.port}`,
      startedAt: startedAt.toISOString(),
      durationMs: Math.round(performance.now() - t0),
      tool: { name: 'rtmpbench', version: VERSION },
      unreachable,
      counts: countResults(ordered),
      probes: ordered,
    };
  };

  const refused = await probePort(parsed.host, parsed.port, Math.min(5000, waitMs * 2));
  if (refused !== null) return report([], `nothing accepted a connection on ${parsed.host}:${parsed.port}: ${refused}`);

  const outcomes: ProbeOutcome[] = [];
  const done = (o: ProbeOutcome) => {
    outcomes.push(o);
    opts.onProbe?.(o, outcomes.length, probes.length);
  };
  const base = await baseline(target, prefix, waitMs);
  const level = PROBE_NEEDS.indexOf(base.reached);
  const runnable: ProbeDefinition[] = [];
  for (const def of probes) {
    if (PROBE_NEEDS.indexOf(def.needs) <= level) runnable.push(def);
    else
      done(
        outcomeOf(
          def,
          {
            result: 'error',
            detail:
              `not run: it needs the server to ${NEED_TEXT[def.needs]}, which it did not in the ` +
              `baseline check (${base.reason})`,
          },
          {},
          0,
        ),
      );
  }
  const notRun = (def: ProbeDefinition, why: string) =>
    done(outcomeOf(def, { result: 'error', detail: `not run: ${why}` }, {}, 0));
  // An attack's bytes are bounded by the attack (its plan), not by MAX_PROBE_BYTES.
  const contextFor = (def: ProbeDefinition) =>
    new ProbeContext({
      target,
      streamPrefix: prefix,
      index: probes.indexOf(def) + 1,
      waitMs,
      attack,
      ...(def.attack === true ? { maxBytes: Number.MAX_SAFE_INTEGER } : {}),
    });
  const limitFor = (def: ProbeDefinition) =>
    Math.min(
      def.attack === true ? attackLimitMs(attack, waitMs) : (def.limitMs ?? DEFAULT_LIMIT_MS),
      deadline - performance.now(),
    );
  const budgetSpent = `the time budget of ${Math.round(budgetMs / 1000)} s for one server was spent`;

  const shared = runnable.filter((d) => d.isolated !== true);
  let next = 0;
  const worker = async () => {
    while (next < shared.length) {
      const def = shared[next++]!;
      const limit = limitFor(def);
      if (limit <= 0) notRun(def, budgetSpent);
      else done(await runOne(def, contextFor(def), limit));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 6) }, worker));

  let stoppedAfter: string | null = null;
  for (const def of runnable.filter((d) => d.isolated === true)) {
    if (stoppedAfter !== null) {
      notRun(def, `the server stopped answering after ${stoppedAfter}`);
      continue;
    }
    const limit = limitFor(def);
    if (limit <= 0) {
      notRun(def, budgetSpent);
      continue;
    }
    const o = await runOne(def, contextFor(def), limit);
    // A server that never answered connect cannot be said to have stopped after this probe.
    const gone = level >= PROBE_NEEDS.indexOf('connect') ? await alive(target, prefix, waitMs) : null;
    if (gone !== null) {
      stoppedAfter = def.id;
      o.evidence['server afterwards'] = `stopped answering: ${gone}`;
      o.result = 'fail';
      o.detail = `the server stopped answering after this probe (${o.detail})`;
    }
    done(o);
  }
  return report(outcomes, null);
}
