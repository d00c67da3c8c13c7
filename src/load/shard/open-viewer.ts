import type { StatusEvent } from '../../client/connection.js';
import { ClientError, type ClientClose } from '../../client/errors.js';
import { HlsViewer, type HlsEvents } from '../../client/hls-viewer.js';
import { HttpFlvViewer } from '../../client/http-flv-viewer.js';
import { Player } from '../../client/player.js';
import { parseRtmpUrl, type RtmpUrl } from '../../client/url.js';
import type { FrameSink, Viewer } from '../../client/viewer.js';
import { WsFlvViewer } from '../../client/ws-flv-viewer.js';
import type { MarkCodec } from '../../media/timing-mark.js';
import type { ViewerProtocol } from '../../protocol/delivery.js';

/** What every viewer is opened with, whatever its protocol. */
export interface ViewerSetup {
  protocol: ViewerProtocol;
  /** The viewer's URL; for RTMP, the stream is its last path element. */
  url: string;
  /** RTMP viewers without a URL of their own: the target and the stream name. */
  target: RtmpUrl;
  streamName: string;
  insecure: boolean;
  /** The source address of the viewer's connections (undefined: the host chooses). */
  localAddress: string | undefined;
  codec: MarkCodec;
  onFrame: FrameSink;
  onEnd: (end: ClientClose) => void;
  /** RTMP: status events (a publisher that stops). */
  onStatus: (s: StatusEvent) => void;
  /** RTMP: one read buffer for every socket of the thread. */
  sharedReadBuffer: Buffer;
  /** HLS: playlist and segment loads, HTTP errors. */
  hls: HlsEvents;
  /** HTTP viewers: a stream not there yet is asked for again this often, until the deadline. */
  retryEveryMs: number;
  /** HTTP viewers: called for each answer that refused to open the stream (404 before asking again, or any other). */
  onRefused: (status: number) => void;
}

/** A stream the server does not have yet (HTTP 404, or 503): real players ask again, and so do these. */
function notThereYet(e: unknown): boolean {
  return e instanceof ClientError && e.failure === 'rejected' && (e.status === 404 || e.status === 503);
}

function openOnce(s: ViewerSetup): Promise<Viewer> {
  const common = {
    url: s.url,
    insecure: s.insecure,
    onFrame: s.onFrame,
    onEnd: s.onEnd,
    ...(s.localAddress !== undefined ? { localAddress: s.localAddress } : {}),
  };
  switch (s.protocol) {
    case 'rtmp': {
      const u = s.url === '' ? { ...s.target, stream: s.streamName } : parseRtmpUrl(s.url);
      // Frames can come with Play.Start, before `open` resolves: the sink goes in with the options.
      return Player.open({
        url: u,
        streamName: u.stream,
        insecure: s.insecure,
        codec: s.codec,
        onVideo: s.onFrame,
        onStatus: s.onStatus,
        sharedReadBuffer: s.sharedReadBuffer,
        ...(s.localAddress !== undefined ? { localAddress: s.localAddress } : {}),
      }).then((p) => {
        p.onEnd = s.onEnd;
        return p;
      });
    }
    case 'http-flv':
      return HttpFlvViewer.open(common);
    case 'ws-flv':
      return WsFlvViewer.open(common);
    case 'hls':
      return HlsViewer.open({ ...common, ...s.hls });
  }
}

/**
 * Opens a viewer of any protocol. An HTTP viewer whose stream is not there yet (a 404 before
 * the publisher's first segment or tag) asks again until `deadlineUs`, as real players do.
 */
export async function openViewer(s: ViewerSetup, deadlineMs: number): Promise<Viewer> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await openOnce(s);
    } catch (e) {
      if (e instanceof ClientError && e.status !== undefined) s.onRefused(e.status);
      if (!notThereYet(e) || Date.now() + s.retryEveryMs > until) throw e;
      await new Promise((r) => setTimeout(r, s.retryEveryMs));
    }
  }
}
