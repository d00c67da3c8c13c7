/**
 * A cheap origin for the viewer benchmark, run in its own process so its CPU is not the
 * viewers': one synthetic marked stream paced in real time, served as HTTP-FLV and
 * WebSocket-FLV at /live/s.flv (each tag encoded once, the same bytes written to every
 * viewer) and as HLS at /hls/index.m3u8 (MPEG-TS segments cut at keyframes, muxed once).
 *
 *   node dist/bench/lib/viewer-origin.js [--port P] [--bitrate 600000] [--segment-s 2]
 *
 * Prints `listening PORT` once it accepts connections.
 */
import http from 'node:http';
import type net from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { TsMuxer } from '../../src/media/ts-muxer.js';
import { SyntheticSource } from '../../src/media/synthetic.js';
import { monotonicUs, stampSendTime } from '../../src/media/timing-mark.js';
import { MSG_AUDIO, MSG_VIDEO } from '../../src/protocol/constants.js';
import { argValue } from './env.js';

const port = Number(argValue('port') ?? 0);
const bitrate = Number(argValue('bitrate') ?? 600_000);
const segmentS = Number(argValue('segment-s') ?? 2);
const WINDOW = 6;

const source = new SyntheticSource({ videoBitrate: bitrate, fps: 30, gopSeconds: segmentS, audioBitrate: 64_000 });

/** One FLV tag with its PreviousTagSize, as sent. */
function flvTag(typeId: number, timestampMs: number, payload: Buffer): Buffer {
  const b = Buffer.allocUnsafe(11 + payload.length + 4);
  b[0] = typeId;
  b.writeUIntBE(payload.length, 1, 3);
  b.writeUIntBE(timestampMs & 0xffffff, 4, 3);
  b[7] = (timestampMs >>> 24) & 0xff;
  b.writeUIntBE(0, 8, 3);
  payload.copy(b, 11);
  b.writeUInt32BE(11 + payload.length, 11 + payload.length);
  return b;
}

const FLV_HEADER = Buffer.from([0x46, 0x4c, 0x56, 1, 5, 0, 0, 0, 9, 0, 0, 0, 0]);
const start = Buffer.concat([
  FLV_HEADER,
  flvTag(MSG_VIDEO, 0, source.videoSequenceHeader()),
  flvTag(MSG_AUDIO, 0, source.audioSequenceHeader()!),
]);

/** FLV viewers: waiting for a keyframe, or live. */
const waiting = new Set<http.ServerResponse | WebSocket>();
const live = new Set<http.ServerResponse | WebSocket>();

function send(to: http.ServerResponse | WebSocket, bytes: Buffer): void {
  if ('writeHead' in to) to.write(bytes);
  else to.send(bytes);
}

// HLS: segments in memory.
const muxer = new TsMuxer();
muxer.videoMessage(0, source.videoSequenceHeader());
muxer.audioMessage(0, source.audioSequenceHeader()!);
const segments: { msn: number; durationS: number; data: Buffer }[] = [];
let current: Buffer[] = [];
let currentStartMs = 0;
let nextMsn = 0;

function cut(atMs: number): void {
  if (current.length > 0) {
    segments.push({ msn: nextMsn++, durationS: (atMs - currentStartMs) / 1000, data: Buffer.concat(current) });
    while (segments.length > WINDOW) segments.shift();
  }
  current = [Buffer.from(muxer.tables())];
  currentStartMs = atMs;
}

function playlist(): string {
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:3',
    `#EXT-X-TARGETDURATION:${Math.ceil(segmentS)}`,
    `#EXT-X-MEDIA-SEQUENCE:${segments[0]?.msn ?? 0}`,
  ];
  for (const s of segments) lines.push(`#EXTINF:${s.durationS.toFixed(3)},`, `seg${s.msn}.ts`);
  return `${lines.join('\n')}\n`;
}

const startUs = monotonicUs();
let video = 0;
let audio = 0;
setInterval(() => {
  const now = monotonicUs();
  while (startUs + source.videoDueOffsetUs(video) <= now) {
    const due = source.videoDueOffsetUs(video);
    while (source.audioDueOffsetUs(audio) <= due) {
      const a = source.audioFrameAt(audio++)!;
      const tag = flvTag(MSG_AUDIO, a.timestampMs, a.payload);
      for (const v of live) send(v, tag);
      if (current.length > 0) current.push(Buffer.from(muxer.audioMessage(a.timestampMs, a.payload)));
    }
    const f = source.videoFrame(video++, startUs + due);
    stampSendTime(f.payload, f.markOffset, source.codec, monotonicUs());
    if (f.keyframe) {
      cut(f.timestampMs);
      for (const v of waiting) {
        send(v, start);
        live.add(v);
      }
      waiting.clear();
    }
    current.push(Buffer.from(muxer.videoMessage(f.timestampMs, f.payload)));
    const tag = flvTag(MSG_VIDEO, f.timestampMs, f.payload);
    for (const v of live) send(v, tag);
  }
}, 5);

const sockets = new Set<net.Socket>();
const server = http.createServer((req, res) => {
  const path = req.url ?? '';
  if (path === '/live/s.flv') {
    res.writeHead(200, { 'content-type': 'video/x-flv' });
    waiting.add(res);
    res.on('close', () => {
      waiting.delete(res);
      live.delete(res);
    });
    return;
  }
  if (path === '/hls/index.m3u8') {
    res
      .writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl', 'cache-control': 'no-cache' })
      .end(playlist());
    return;
  }
  const m = /^\/hls\/seg(\d+)\.ts$/.exec(path);
  const seg = m === null ? undefined : segments.find((s) => s.msn === Number(m[1]));
  if (seg === undefined) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'video/mp2t' }).end(seg.data);
});
server.on('connection', (s) => {
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
});
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws) => {
  waiting.add(ws);
  ws.on('close', () => {
    waiting.delete(ws);
    live.delete(ws);
  });
});
server.listen(port, '127.0.0.1', () => {
  console.log(`listening ${(server.address() as net.AddressInfo).port}`);
});
process.on('SIGTERM', () => {
  for (const s of sockets) s.destroy();
  process.exit(0);
});
