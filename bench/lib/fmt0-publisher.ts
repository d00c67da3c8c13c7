import { ClientConnection } from '../../src/client/connection.js';
import type { RtmpUrl } from '../../src/client/url.js';
import type { MediaSource } from '../../src/media/source.js';
import { monotonicUs, stampSendTime } from '../../src/media/timing-mark.js';
import { encodeMessageContiguous } from '../../src/protocol/chunk-writer.js';
import { setDataFrameMessage } from '../../src/protocol/commands.js';
import { CSID_AUDIO, CSID_VIDEO, MSG_AUDIO, MSG_VIDEO } from '../../src/protocol/constants.js';
import type { OutgoingMessage } from '../../src/protocol/message.js';

/** The chunk size the publisher announces (ClientConnection's default) and encodes with. */
const CHUNK_SIZE = 4096;

/**
 * A publisher whose media messages each stand alone: a fmt-0 first chunk, fmt-3 continuations,
 * one message after the other. Any server reads them like any publisher's; the floor relay
 * (bench/floor-relay.ts) can hand them to viewers byte for byte. The schedule and timing marks
 * are the client Publisher's; only the header compression differs, so every server of a bench
 * gets the same input.
 */
export class Fmt0Publisher {
  private startUs = 0;
  private nextVideo = 0;
  private nextAudio = 0;
  private nextVideoDueUs = Infinity;
  private nextAudioDueUs = Infinity;

  private constructor(
    readonly conn: ClientConnection,
    private readonly source: MediaSource,
    private readonly streamId: number,
  ) {}

  static async open(url: RtmpUrl, streamName: string, source: MediaSource): Promise<Fmt0Publisher> {
    const conn = await ClientConnection.open({ url, chunkSize: CHUNK_SIZE });
    return new Fmt0Publisher(conn, source, await conn.publish(streamName));
  }

  start(startUs = monotonicUs()): void {
    const s = this.source;
    this.startUs = startUs;
    this.write(setDataFrameMessage(this.streamId, s.metadata()));
    const vsh = s.videoSequenceHeader();
    if (vsh !== null) this.send(MSG_VIDEO, 0, vsh);
    const ash = s.audioSequenceHeader();
    if (ash !== null) this.send(MSG_AUDIO, 0, ash);
    this.nextVideoDueUs = startUs;
    this.nextAudioDueUs = s.hasAudio ? startUs : Infinity;
  }

  /** Sends every frame due by `nowUs`, in time order. */
  pump(nowUs: number): void {
    if (this.conn.isClosed) return;
    const s = this.source;
    for (;;) {
      const videoFirst = this.nextVideoDueUs <= this.nextAudioDueUs;
      const due = videoFirst ? this.nextVideoDueUs : this.nextAudioDueUs;
      if (due > nowUs) return;
      if (videoFirst) {
        const frame = s.videoFrame(this.nextVideo, due);
        if (frame.markOffset >= 0) stampSendTime(frame.payload, frame.markOffset, s.codec, monotonicUs());
        this.send(MSG_VIDEO, frame.timestampMs, frame.payload);
        this.nextVideo++;
        this.nextVideoDueUs = this.startUs + s.videoDueOffsetUs(this.nextVideo);
      } else {
        const frame = s.audioFrameAt(this.nextAudio);
        if (frame !== null) this.send(MSG_AUDIO, frame.timestampMs, frame.payload);
        this.nextAudio++;
        this.nextAudioDueUs = this.startUs + s.audioDueOffsetUs(this.nextAudio);
      }
    }
  }

  close(): void {
    this.conn.close();
  }

  private send(typeId: number, timestamp: number, payload: Buffer): void {
    this.write({
      csid: typeId === MSG_VIDEO ? CSID_VIDEO : CSID_AUDIO,
      typeId,
      streamId: this.streamId,
      timestamp,
      payload,
    });
  }

  private write(msg: OutgoingMessage): void {
    this.conn.socket.write(encodeMessageContiguous(msg, CHUNK_SIZE));
  }
}
