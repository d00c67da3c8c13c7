import type { ProbeContext } from '../context.js';
import { ProbeMedia, type ProbeMessage } from '../media.js';
import { MSG_AUDIO } from '../../../protocol/constants.js';
import { play, publish, sendAll, type Publisher, type Viewer } from '../relay.js';

/**
 * A healthy publisher and viewer beside an attack: AVC and AAC at 25 frames a second, each frame
 * marked, so the end of the attack can say whether the viewer got every frame the publisher sent
 * while the server was under attack. Frames are `frameBytes` long (video; audio 200 bytes).
 */

const FRAME_MS = 40;
const MARKER_BYTES = 16;
/** Where media.ts puts a frame's marker: after the 5-byte AVC tag header, 4-byte NAL length and NAL header. */
const AVC_MARKER_AT = 10;
/** After the 2-byte AAC tag header. */
const AAC_MARKER_AT = 2;
const KEYFRAME_EVERY = 25;

export class HealthyStream {
  readonly sent: ProbeMessage[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly media = new ProbeMedia();
  private frames = 0;
  /** Markers of the frames the viewer got, and how far its messages were read for them. */
  private readonly got = new Set<string>();
  private seen = 0;

  private constructor(
    readonly pub: Publisher,
    readonly view: Viewer,
    private readonly frameBytes: number,
  ) {}

  /** Publishes a fresh stream and plays it (the probe's set-up: a failure is the probe's error). */
  static async start(ctx: ProbeContext, frameBytes = 1500): Promise<HealthyStream> {
    return ctx.setup('a healthy publisher and viewer', async () => {
      const name = ctx.streamName();
      const pub = await publish(ctx, name);
      const view = await play(ctx, name);
      const s = new HealthyStream(pub, view, frameBytes);
      const headers = [s.media.avcSequenceHeader(0), s.media.aacSequenceHeader(0)];
      for (const m of headers) s.write(m);
      s.timer = setInterval(() => s.tick(), FRAME_MS);
      return s;
    });
  }

  get name(): string {
    return this.pub.name;
  }

  /** Stops publishing; waits up to `waitMs` for the viewer to get every frame; returns the counts. */
  async stop(waitMs: number): Promise<{ sent: number; lost: number; viewerClosed: string | null }> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    const frames = this.sent;
    const missing = () => {
      this.collect();
      return frames.filter((m) => !this.got.has(m.marker!.toString('latin1')));
    };
    await this.view.conn
      .waitFor(() => (missing().length === 0 ? true : undefined), waitMs, 'the healthy stream')
      .catch(() => undefined);
    return {
      sent: frames.length,
      lost: missing().length,
      viewerClosed: this.view.conn.closed ? this.view.conn.closedBy : null,
    };
  }

  private tick(): void {
    if (this.pub.conn.closed) return;
    const t = this.frames * FRAME_MS;
    const key = this.frames % KEYFRAME_EVERY === 0;
    const video = this.media.avcFrame(key, t, this.frameBytes, `frame ${this.frames}`);
    const audio = this.media.aacFrame(t + FRAME_MS / 2, 200, `audio ${this.frames}`);
    this.frames++;
    this.write(video);
    this.write(audio);
    this.sent.push(video, audio);
  }

  private write(m: ProbeMessage): void {
    sendAll(this.pub, [m]);
  }

  /**
   * Reads the markers of frames that arrived since the last call, at their fixed offsets (media.ts:
   * after the AVC tag header and NAL length, after the AAC tag header): scanning every payload of
   * frames as large as 100 KB for every frame sent would cost seconds.
   */
  private collect(): void {
    const messages = this.view.conn.messages;
    for (let i = Math.max(this.seen, this.view.from); i < messages.length; i++) {
      const m = messages[i]!;
      const at = m.typeId === MSG_AUDIO ? AAC_MARKER_AT : AVC_MARKER_AT;
      if (m.payload.length >= at + MARKER_BYTES) this.got.add(m.payload.toString('latin1', at, at + MARKER_BYTES));
    }
    this.seen = messages.length;
  }
}
