import { BufferPool } from '../../buffers/buffer-pool.js';
import type { StatusEvent } from '../../client/connection.js';
import type { ClientClose } from '../../client/errors.js';
import type { HlsEvents } from '../../client/hls-viewer.js';
import { Player } from '../../client/player.js';
import { Publisher } from '../../client/publisher.js';
import { parseRtmpUrl, type RtmpUrl } from '../../client/url.js';
import type { Viewer } from '../../client/viewer.js';
import { EventLoopMeter } from '../../metrics/event-loop.js';
import { Recorder, type HistogramKey } from '../../metrics/histograms.js';
import { monotonicUs } from '../../media/timing-mark.js';
import { PROTOCOL_KEYS, type ProtocolKey } from '../../protocol/delivery.js';
import type { FailedSession, MediaFailure } from '../../results/failures.js';
import { makeSource } from '../media-source.js';
import { streamUrl } from '../play-urls.js';
import { epochAt, nearRestart, publicationWindow, publishedName } from '../restarts.js';
import type { ShardResult, ShardTask, ViewerRecord, WorkerMessage } from '../worker-protocol.js';
import { FailureCounts } from './failure-counts.js';
import { openViewer } from './open-viewer.js';
import { Pacer } from './pacer.js';
import { keepsProtocolHistograms, PlayerProbe, type ProbeContext } from './player-probe.js';
import { PublisherProbe } from './publisher-probe.js';
import { Churn, Schedule } from './schedule.js';
import { SlowReaders } from './slow-readers.js';
import { Tally } from './tally.js';

/** Time viewers get to receive frames in flight, and the server to take the publishers' goodbyes. */
const DRAIN_MS = 300;
/** Time for closing sockets to report their last bytes. */
const CLOSE_SETTLE_MS = 50;
/** Read buffer shared by every viewer socket of a thread (reads are handled one at a time). */
const SHARED_READ_BYTES = 64 * 1024;
/** Wire buffers of published frames kept for reuse. */
const FRAME_POOL_BYTES = 32 * 1024 * 1024;

/** Publishers, as failures name them. */
const PUBLISHER: FailedSession = { role: 'publisher' };

/** An HTTP viewer whose stream is not there yet asks again this often. */
const NOT_YET_RETRY_MS = 500;

/** One viewer to start: its stream, its group (protocol and URL), and when it leaves (null: with the run). */
interface Join {
  stream: number;
  group: number;
  slow: boolean;
  stopAtUs: number | null;
}

const sleepUntilUs = (us: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, (us - monotonicUs()) / 1000)));
const sleepMs = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** A source address as connect options take it: left out when the host chooses. */
const sourceAddress = (a: string | undefined) => (a !== undefined ? { localAddress: a } : {});

/**
 * One worker's share of a run: its publishers (paced by one timer), its viewers (opened and
 * closed on the scenario's schedule, plus churn), each measured by its probe. Every second it
 * sends a tick with what that second measured; the result carries the run's totals.
 * Memory and per-second work follow the sessions alive, not those that ever lived: a viewer
 * that ends adds its counts to the totals and is let go.
 */
export class Shard implements ProbeContext {
  readonly startAtUs: number;
  /** How late the run began here against its planned start, µs. */
  private lateUs = 0;
  readonly stallThresholdUs: number;
  private readonly url: RtmpUrl;
  private readonly rec = new Recorder();
  private readonly meter = new EventLoopMeter();
  private readonly tally = new Tally();
  /** Failures, and HTTP error answers viewers got. */
  private readonly failures = new FailureCounts();
  private readonly publishers: PublisherProbe[] = [];
  /** Publications that ended since the last tick (their last send logs go with it). */
  private publishersEnded: PublisherProbe[] = [];
  private readonly players = new Set<PlayerProbe>();
  /** Viewers not yet judged against the no-video bound. */
  private readonly awaitingVideo = new Set<PlayerProbe>();
  private viewersEnded: ViewerRecord[] = [];
  private readonly pacer = new Pacer();
  private readonly slow: SlowReaders;
  private readonly sharedReadBuffer = Buffer.allocUnsafe(SHARED_READ_BYTES);
  private readonly framePool = new BufferPool({ maxHeldBytes: FRAME_POOL_BYTES });
  private readonly warmupEndUs: number;
  private readonly audioExpected: boolean;
  readonly protocolHistograms: boolean;
  private endUs: number;
  /** The run is over: closes are no longer failures. */
  private over = false;
  private ticksSent = 0;
  /** Sessions given a source address so far (they are dealt round-robin). */
  private sessionsOpened = 0;
  private lastTickUs: number;
  private tickTimer: NodeJS.Timeout | null = null;
  private joins: Schedule<Join> | null = null;

  constructor(
    private readonly task: ShardTask,
    private readonly send: (m: WorkerMessage) => void,
  ) {
    this.url = parseRtmpUrl(task.url);
    this.startAtUs = task.startAtUs;
    this.stallThresholdUs = task.stallThresholdMs * 1000;
    this.warmupEndUs = task.startAtUs + task.warmupMs * 1000;
    this.endUs = task.startAtUs + task.durationMs * 1000;
    this.lastTickUs = task.startAtUs;
    this.slow = new SlowReaders(task.slowReadKbps);
    this.audioExpected = task.media.audioBitrate > 0;
    this.protocolHistograms = keepsProtocolHistograms(task.groups.map((g) => g.protocol));
  }

  /** What the shard holds now: memory follows the sessions alive, not those that ever lived. */
  held(): { publishers: number; players: number; awaitingVideo: number; viewersEnded: number; scheduledJoins: number } {
    return {
      publishers: this.publishers.length,
      players: this.players.size,
      awaitingVideo: this.awaitingVideo.size,
      viewersEnded: this.viewersEnded.length,
      scheduledJoins: this.joins?.pending ?? 0,
    };
  }

  measuring(): boolean {
    return monotonicUs() >= this.warmupEndUs;
  }

  get frameIntervalUs(): number {
    return 1e6 / this.task.media.fps;
  }

  publicationSeen(record: ViewerRecord): void {
    this.viewersEnded.push(record);
  }

  record(key: HistogramKey, valueUs: number): void {
    if (monotonicUs() >= this.warmupEndUs) this.rec.record(key, valueUs);
  }

  /** Runs the share to its end (or to the common stop time `stopped` announces). */
  async run(stopped: Promise<number>): Promise<ShardResult> {
    const task = this.task;
    await sleepUntilUs(this.startAtUs);
    this.lateUs = Math.max(0, monotonicUs() - this.startAtUs);
    this.armTick();
    await this.openPublishers();
    const joins = new Schedule(
      task.players.flatMap((plan) =>
        plan.windows
          .filter(([a]) => this.startAtUs + a * 1000 < this.endUs)
          .map(([a, b]) => ({
            atUs: this.startAtUs + a * 1000,
            item: {
              stream: plan.stream,
              group: plan.group,
              slow: plan.slow,
              stopAtUs: b === null ? null : this.startAtUs + b * 1000,
            },
          })),
      ),
      (j) => void this.openPlayer(j),
    );
    this.joins = joins;
    let churnStream = task.shard;
    const churn = new Churn(task.churn.joinsPerSecond, task.churn.meanSessionMs, (stayMs) => {
      void this.openPlayer({
        stream: churnStream++ % task.streamNames.length,
        group: 0,
        slow: false,
        stopAtUs: monotonicUs() + stayMs * 1000,
      });
    });
    joins.start();
    churn.start();

    // An early stop (a capacity search that broke) names a common end time.
    const stopAtUs = await Promise.race([sleepUntilUs(this.endUs).then(() => null), stopped]);
    if (stopAtUs !== null && stopAtUs < this.endUs) {
      this.endUs = stopAtUs;
      await sleepUntilUs(this.endUs);
    }
    // The end: ticks for every whole second that passed, then no new frames or viewers; viewers
    // take the frames in flight; the publishers say goodbye; viewers are judged and closed.
    this.disarmTick();
    // A timer may wake a hair before the end: the second that ends with the run is still a whole one.
    this.tickDue(Math.max(monotonicUs(), this.endUs));
    this.pacer.stop();
    joins.stop();
    churn.stop();
    this.slow.stop();
    for (const p of this.players) if (p.stopTimer !== null) clearTimeout(p.stopTimer);
    await sleepMs(DRAIN_MS);
    this.over = true;
    for (const p of [...this.publishers]) {
      p.clearTimers();
      p.stopping = true;
      p.publisher.stop();
    }
    await sleepMs(DRAIN_MS);
    const playersUp = this.playersUp();
    const now = monotonicUs();
    for (const probe of [...this.players]) {
      if (this.awaitingVideo.has(probe)) this.judgeAtEnd(probe);
      this.endPlayer(probe, now, true);
      probe.viewer?.close();
    }
    await sleepMs(CLOSE_SETTLE_MS);
    this.emitTick(true, playersUp);
    this.meter.stop();
    const totals = this.tally.lastTotals();
    return {
      shard: task.shard,
      histograms: this.rec.encodeTotal(),
      counters: totals.all,
      byProtocol: totals.byProtocol,
      failures: this.failures.failures.total,
      httpErrors: this.failures.httpErrors.total,
      eventLoop: this.meter.whole(),
      lateUs: this.lateUs,
    };
  }

  /** Opens the first publication of every stream this shard publishes, their schedules spread over a GOP. */
  private async openPublishers(): Promise<void> {
    const opened = await Promise.all(this.task.publish.map((stream) => this.openPublication(stream, 0)));
    // Independent encoders do not share keyframe instants: spread the publishers' schedules
    // over one GOP, so keyframes (about ten P-frames each) do not all leave at once.
    const t0 = monotonicUs();
    const live = opened.filter((p) => p !== null);
    for (const [k, p] of live.entries())
      this.startPublication(p, t0 + ((k * this.task.media.gopMs) / Math.max(1, live.length)) * 1000);
    this.pacer.start();
  }

  /** One publication of a stream (its epoch), connected and publishing; null when it could not. */
  private async openPublication(stream: number, epoch: number): Promise<PublisherProbe | null> {
    const task = this.task;
    this.tally.count('publishersPlanned');
    try {
      const name = publishedName(task.streamNames[stream]!, epoch, task.restart);
      const p = await Publisher.open({
        url: this.url,
        streamName: name,
        source: makeSource(task.media, epoch),
        insecure: task.insecure,
        ...sourceAddress(this.nextSourceAddress()),
        chunkSize: task.media.chunkSize,
        framePool: this.framePool,
      });
      const probe = new PublisherProbe(this, p, stream, epoch);
      p.conn.onClose = (reason: ClientClose) => {
        this.publicationEnded(probe);
        if (!this.over && !probe.stopping && reason.kind !== 'local')
          this.failures.add({ role: 'publisher', phase: 'dropped', kind: reason.kind });
      };
      this.record('connect', p.conn.timings.tcpConnectUs);
      this.record('handshake', p.conn.timings.handshakeUs);
      this.tally.count('publishersConnected');
      this.publishers.push(probe);
      return probe;
    } catch (e) {
      this.tally.count('publishersFailed');
      this.failures.setupFailed(PUBLISHER, e);
      return null;
    }
  }

  private startPublication(p: PublisherProbe, atUs: number): void {
    p.publisher.start(atUs);
    this.pacer.add(p.publisher);
    const r = this.task.restart;
    if (r === undefined) return;
    // Publisher churn: this publication stops on schedule, and the next one starts after the pause.
    const [, stopMs] = publicationWindow(r, p.epoch);
    const [nextMs] = publicationWindow(r, p.epoch + 1);
    if (this.startAtUs + stopMs * 1000 >= this.endUs) return;
    p.stopTimer = setTimeout(
      () => {
        p.stopping = true;
        p.publisher.stop();
      },
      Math.max(0, (this.startAtUs + stopMs * 1000 - monotonicUs()) / 1000),
    );
    p.nextTimer = setTimeout(
      () => {
        if (this.over || this.startAtUs + nextMs * 1000 >= this.endUs) return;
        void this.openPublication(p.stream, p.epoch + 1).then((next) => {
          if (next !== null && !this.over) this.startPublication(next, monotonicUs());
        });
      },
      Math.max(0, (this.startAtUs + nextMs * 1000 - monotonicUs()) / 1000),
    );
  }

  /** A publication's connection closed: its counts join the totals; its last send log leaves with the next tick. */
  private publicationEnded(p: PublisherProbe): void {
    const i = this.publishers.indexOf(p);
    if (i < 0) return;
    this.publishers.splice(i, 1);
    // The next publication still comes on schedule (a dropped publisher is replaced too).
    if (p.stopTimer !== null) clearTimeout(p.stopTimer);
    this.tally.publisherEnded(p);
    if (!this.over) this.tally.count('publishersEnded');
    this.publishersEnded.push(p);
  }

  /** The source address of the next session, round-robin over the task's (undefined: the host chooses). */
  private nextSourceAddress(): string | undefined {
    const list = this.task.sourceAddresses;
    if (list === undefined || list.length === 0) return undefined;
    return list[((this.task.sourceAddressOffset ?? 0) + this.sessionsOpened++) % list.length];
  }

  private async openPlayer(j: Join): Promise<void> {
    const task = this.task;
    const group = task.groups[j.group]!;
    const pk = PROTOCOL_KEYS[group.protocol];
    // With publisher churn, a viewer plays the publication live now (or the next one).
    const epoch = epochAt(task.restart, (monotonicUs() - this.startAtUs) / 1000);
    const name = publishedName(task.streamNames[j.stream]!, epoch, task.restart);
    this.tally.count('playersPlanned', pk);
    const probe = new PlayerProbe(this, j.stream, group.protocol, j.slow, epoch, monotonicUs(), group.name);
    probe.join = j;
    const hls: HlsEvents = {
      onPlaylist: (l) => probe.record('playlistFetch', l.fetchUs),
      onPlaylistAge: (ageUs) => probe.record('playlistAge', ageUs),
      onRequest: () => this.tally.count('hlsRequests', pk),
      onSegment: (l) => {
        // A hinted part's fetch time includes the server's wait for it: no download time.
        if (!l.hinted) probe.record('segmentFetch', l.fetchUs);
        this.tally.count('segmentsFetched', pk);
        this.tally.count('segmentBytes', pk, l.bytes);
        this.tally.count('segmentFetchMs', pk, l.fetchUs / 1000);
      },
      onHttpError: (status) => this.failures.httpError({ protocol: pk, status }),
    };
    let viewer: Viewer;
    try {
      viewer = await openViewer(
        {
          protocol: group.protocol,
          url: group.protocol === 'rtmp' ? group.url.replaceAll('{stream}', name) : streamUrl(group.url, name),
          target: this.url,
          streamName: name,
          insecure: task.insecure,
          localAddress: this.nextSourceAddress(),
          codec: task.media.codec,
          onFrame: (f) => probe.onFrame(f),
          onEnd: (end) => this.onViewerEnd(probe, end),
          onStatus: (s) => this.onStatus(probe, s),
          sharedReadBuffer: this.sharedReadBuffer,
          hls,
          retryEveryMs: NOT_YET_RETRY_MS,
          // An HLS viewer has counted the answer already (onHttpError); the FLV viewers report none of their own.
          onRefused: (status) => {
            if (group.protocol !== 'hls') this.failures.httpError({ protocol: pk, status });
          },
        },
        task.firstVideoWithinMs,
      );
    } catch (e) {
      this.tally.count('playersFailed', pk);
      this.failures.setupFailed({ role: 'player', protocol: group.protocol }, e);
      return;
    }
    if (this.over) {
      viewer.close();
      return;
    }
    const now = monotonicUs();
    this.tally.count('playersConnected', pk);
    probe.attach(viewer, now);
    this.players.add(probe);
    this.awaitingVideo.add(probe);
    if (j.slow && viewer instanceof Player) viewer.conn.onRead = this.slow.add(viewer.conn.socket);
    if (j.stopAtUs !== null) probe.stopTimer = setTimeout(() => viewer.close(), Math.max(0, (j.stopAtUs - now) / 1000));
  }

  private onViewerEnd(probe: PlayerProbe, end: ClientClose): void {
    if (!this.players.has(probe)) return;
    const now = monotonicUs();
    this.endPlayer(probe, now, false);
    if (this.over || end.kind === 'local') return;
    // An HTTP viewer's stream ends with its publication: with publisher churn it follows to the next one.
    if (nearRestart(this.task.restart, (now - this.startAtUs) / 1000)) {
      this.follow(probe);
      return;
    }
    this.failures.add({ role: 'player', protocol: probe.protocol, phase: 'dropped', kind: end.kind });
  }

  private onStatus(probe: PlayerProbe, s: StatusEvent): void {
    // The run's own publishers stopping at the end are not news.
    if (this.over || monotonicUs() >= this.endUs) return;
    if (s.code !== 'NetStream.Play.UnpublishNotify' && s.code !== 'NetStream.Play.Stop') return;
    this.tally.count('publisherStops', 'rtmp');
    // Republished under a new name: the player leaves this one and follows to the next.
    if (this.task.restart?.rename === true && this.players.has(probe)) {
      this.endPlayer(probe, monotonicUs(), false);
      probe.viewer?.close();
      this.follow(probe);
    }
  }

  /** A viewer of a publication that ended joins the stream's next one (a new session). */
  private follow(probe: PlayerProbe): void {
    const j = probe.join;
    const r = this.task.restart;
    if (j === null || r === undefined) return;
    const [nextMs] = publicationWindow(r, epochAt(r, (monotonicUs() - this.startAtUs) / 1000 + r.pauseMs));
    const atUs = Math.max(monotonicUs(), this.startAtUs + nextMs * 1000);
    if (atUs >= this.endUs || (j.stopAtUs !== null && atUs >= j.stopAtUs)) return;
    setTimeout(
      () => {
        if (!this.over) void this.openPlayer(j);
      },
      (atUs - monotonicUs()) / 1000,
    );
  }

  /** A viewer ends: its counts go to the totals, its record to frame accounting, and it is let go. */
  private endPlayer(probe: PlayerProbe, leftUs: number, atEnd: boolean): void {
    if (!this.players.delete(probe)) return;
    if (!atEnd) this.tally.count('playersEnded', probe.protocolKey);
    this.awaitingVideo.delete(probe);
    if (probe.stopTimer !== null) clearTimeout(probe.stopTimer);
    this.tally.ended(probe, leftUs);
    if (probe.viewer instanceof Player) this.slow.remove(probe.viewer.conn.socket);
    this.viewersEnded.push(probe.endRecord(leftUs, atEnd));
  }

  /** Viewers with no video (or no audio) within the bound are failed, and leave as a person would. */
  private judgeWhileRunning(nowUs: number): void {
    const bound = this.task.firstVideoWithinMs * 1000;
    for (const probe of this.awaitingVideo) {
      const v = probe.verdict(nowUs, bound, this.audioExpected);
      if (v === 'waiting') continue;
      this.awaitingVideo.delete(probe);
      if (v === 'ok') continue;
      this.failed(probe, v);
      this.endPlayer(probe, nowUs, false);
      probe.viewer?.close();
    }
  }

  /** At the end, a viewer still without video failed if it had the bound's time, else joined too late to judge. */
  private judgeAtEnd(probe: PlayerProbe): void {
    const v = probe.verdict(this.endUs, this.task.firstVideoWithinMs * 1000, this.audioExpected);
    if (v === 'no-video' || v === 'no-audio') this.failed(probe, v);
    else if (v === 'waiting') this.tally.count('playersTooLateToJudge', probe.protocolKey);
  }

  private failed(probe: PlayerProbe, why: MediaFailure): void {
    this.tally.count('playersFailed', probe.protocolKey);
    this.failures.add({ role: 'player', protocol: probe.protocol, phase: 'setup', kind: why });
  }

  /** Ticks fire on the run's second boundaries, whatever the timers' drift. */
  private armTick(): void {
    const dueUs = this.startAtUs + (this.ticksSent + 1) * this.task.tickMs * 1000;
    this.tickTimer = setTimeout(
      () => {
        this.tickTimer = null;
        this.tickDue(monotonicUs());
        this.armTick();
      },
      Math.max(0, (dueUs - monotonicUs()) / 1000),
    );
  }

  private disarmTick(): void {
    if (this.tickTimer !== null) clearTimeout(this.tickTimer);
    this.tickTimer = null;
  }

  private tickDue(nowUs: number): void {
    while (this.startAtUs + (this.ticksSent + 1) * this.task.tickMs * 1000 <= nowUs) {
      this.judgeWhileRunning(nowUs);
      this.emitTick(false, this.playersUp());
    }
  }

  /** Viewers up now, in all and by protocol. */
  private playersUp(): { total: number; byProtocol: Partial<Record<ProtocolKey, number>> } {
    const byProtocol: Partial<Record<ProtocolKey, number>> = {};
    for (const p of this.players) byProtocol[p.protocolKey] = (byProtocol[p.protocolKey] ?? 0) + 1;
    return { total: this.players.size, byProtocol };
  }

  private emitTick(final: boolean, up: { total: number; byProtocol: Partial<Record<ProtocolKey, number>> }): void {
    const now = monotonicUs();
    const { all, byProtocol } = this.tally.takeDelta(this.publishers, this.players, now);
    const viewersEnded = this.viewersEnded;
    this.viewersEnded = [];
    const publishersEnded = this.publishersEnded;
    this.publishersEnded = [];
    this.ticksSent++;
    this.send({
      kind: 'tick',
      shard: this.task.shard,
      sec: this.ticksSent,
      final,
      intervalMs: Math.round((now - this.lastTickUs) / 100) / 10,
      publishersUp: final ? this.publishers.length : this.publishers.filter((p) => !p.publisher.closed).length,
      playersUp: up.total,
      playersUpByProtocol: up.byProtocol,
      counters: all,
      byProtocol,
      failures: this.failures.failures.take(),
      httpErrors: this.failures.httpErrors.take(),
      intervals: this.rec.takeInterval(),
      eventLoop: this.meter.sample(),
      sends: [...publishersEnded, ...this.publishers].map((p) => p.takeSendLog()).filter((c) => c !== null),
      viewersEnded,
    });
    this.lastTickUs = now;
  }
}
