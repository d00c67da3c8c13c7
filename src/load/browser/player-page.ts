/**
 * The page a browser viewer runs: a muted <video> played by hls.js (HLS) or mpegts.js (HTTP-FLV,
 * WS-FLV), and what it records from the player itself. Plain JavaScript kept as text (this
 * project is typed without the DOM); the players' own files are served beside it by rtmpbench.
 *
 * What it records:
 * - every timing mark the player hands out with its presentation time: hls.js's
 *   FRAG_PARSING_USERDATA (SEI user_data_unregistered of the MPEG-TS segments) and mpegts.js's
 *   SEI_ARRIVED (the same SEI of the FLV tags); the mark is the one whose UUID is rtmpbench's;
 * - every frame `requestVideoFrameCallback` reports rendered: its media time and the page time it
 *   is shown at (expectedDisplayTime), with the mark of that media time when there is one: the
 *   latency to live of a frame is when it is shown, not when it was parsed (the parse time would
 *   flatter the player by its whole buffer);
 * - the first rendered frame, rebuffering (`waiting` to `playing` after the first frame), the
 *   browser's `stalled` events, dropped and decoded frames (getVideoPlaybackQuality), bytes loaded.
 *
 * The host drains it every second (`__rb.drain()`): each drain reads the page clock too, so the
 * drains are the exchanges that map the page's clock onto the host's (metrics/clock-offset.ts).
 * What waits to be drained is bounded (MAX_FRAMES; beyond it frames are counted, not kept).
 */

/** hls.js serves at this path of the page's origin, mpegts.js at the next. */
export const HLS_JS_PATH = '/__rtmpbench/hls.min.js';
export const MPEGTS_JS_PATH = '/__rtmpbench/mpegts.js';
export const PAGE_PATH = '/__rtmpbench/player.html';

export const PAGE_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>rtmpbench player</title>
<script src="${HLS_JS_PATH}"></script><script src="${MPEGTS_JS_PATH}"></script></head>
<body style="margin:0;background:#000"><video id="v" muted playsinline width="320" height="180"></video></body></html>`;

/** The player a page runs, and what it plays. */
export interface PageConfig {
  player: 'hls.js' | 'mpegts.js';
  /** mpegts.js: 'flv' over HTTP or a WebSocket (the URL's scheme says which). */
  url: string;
  /** hls.js lowLatencyMode (LL-HLS where the playlist has parts); its default is on. */
  lowLatency: boolean;
}

/**
 * One rendered frame: page time shown (ms), its media time (ms), and its mark (host µs of the
 * earlier of intended and sent, intended µs, sequence number, page time it was parsed), or -1
 * when none was found.
 */
export type PageFrame = [
  shownMs: number,
  mediaMs: number,
  markUs: number,
  intendedUs: number,
  seq: number,
  /** Page time the player's demuxer handed out the frame's mark, ms. */
  parsedMs: number,
];

/** What a drain returns. */
export interface PageDrain {
  /** performance.now() while draining, ms. */
  nowMs: number;
  frames: PageFrame[];
  /** Frames that did not fit before the drain. */
  framesOverflow: number;
  /** Frames the compositor presented that no callback reported (presentedFrames skipped). */
  unreported: number;
  startMs: number;
  /** Page time of the first rendered frame, -1 before it. */
  firstFrameMs: number;
  rebuffers: number;
  rebufferMs: number;
  stalled: number;
  dropped: number;
  decoded: number;
  bytes: number;
  marksSeen: number;
  /** The player's own estimate of how far behind live it plays (hls.js `latency`), ms; -1 when it has none. */
  playerLatencyMs: number;
  errors: string[];
}

export const PAGE_SCRIPT = `(function () {
  var UUID = '72746d7062656e63682d6d61726b2e31';
  var MAX_FRAMES = 20000, MAX_MARKS = 4000, MAX_ERRORS = 20;
  var st = {
    startMs: -1, firstFrameMs: -1, frames: [], overflow: 0, unreported: 0, lastPresented: -1,
    rebuffers: 0, rebufferMs: 0, stallStart: -1, stalled: 0, bytes: 0, marksSeen: 0, errors: [],
    marks: new Map(), markKeys: []
  };
  function err(m) { if (st.errors.length < MAX_ERRORS) st.errors.push(String(m)); }
  function hex(b, from, to) {
    var s = '';
    for (var i = from; i < to; i++) s += (b[i] < 16 ? '0' : '') + b[i].toString(16);
    return s;
  }
  function read7(b, o, n) { var v = 0; for (var i = 0; i < n; i++) v = v * 128 + (b[o + i] & 0x7f); return v; }
  /** A mark: 21 bytes after the UUID (timing-mark.ts), at presentation time ptsMs. */
  function addMark(ptsMs, d) {
    if (d === undefined || d === null || d.length < 21) return;
    var intended = read7(d, 0, 8), sent = read7(d, 8, 8), seq = read7(d, 16, 5) % 16777216;
    var key = Math.round(ptsMs);
    if (!st.marks.has(key)) {
      st.markKeys.push(key);
      if (st.markKeys.length > MAX_MARKS) st.marks.delete(st.markKeys.shift());
    }
    st.marks.set(key, [Math.min(intended, sent), intended, seq, performance.now()]);
    st.marksSeen++;
  }
  function markAt(mediaMs) {
    var k = Math.round(mediaMs);
    // Presentation times are rounded to ms on both sides (90 kHz and 1 kHz clocks): look 2 ms around.
    for (var d = 0; d <= 2; d++) {
      var m = st.marks.get(k + d);
      if (m === undefined && d > 0) m = st.marks.get(k - d);
      if (m !== undefined) return m;
    }
    return null;
  }
  var video = document.getElementById('v');
  function onFrame(now, md) {
    var shown = md.expectedDisplayTime;
    if (st.firstFrameMs < 0) st.firstFrameMs = md.presentationTime;
    if (st.lastPresented >= 0 && md.presentedFrames > st.lastPresented + 1)
      st.unreported += md.presentedFrames - st.lastPresented - 1;
    st.lastPresented = md.presentedFrames;
    var mediaMs = md.mediaTime * 1000;
    var m = markAt(mediaMs);
    if (st.frames.length >= MAX_FRAMES) st.overflow++;
    else st.frames.push(m === null ? [shown, mediaMs, -1, -1, -1, -1] : [shown, mediaMs, m[0], m[1], m[2], m[3]]);
    video.requestVideoFrameCallback(onFrame);
  }
  video.addEventListener('waiting', function () {
    if (st.firstFrameMs < 0 || st.stallStart >= 0) return;
    st.stallStart = performance.now();
    st.rebuffers++;
  });
  video.addEventListener('playing', function () {
    if (st.stallStart < 0) return;
    st.rebufferMs += performance.now() - st.stallStart;
    st.stallStart = -1;
  });
  video.addEventListener('stalled', function () { st.stalled++; });
  video.addEventListener('error', function () { err('video: ' + (video.error ? video.error.message : 'error')); });

  function playHls(cfg) {
    if (!window.Hls || !window.Hls.isSupported()) { err('hls.js: not supported here'); return; }
    var hls = new window.Hls({ lowLatencyMode: cfg.lowLatency });
    var E = window.Hls.Events;
    hls.on(E.FRAG_PARSING_USERDATA, function (_e, data) {
      for (var i = 0; i < data.samples.length; i++) {
        var s = data.samples[i];
        if (s.payloadType === 5 && s.userDataBytes && s.uuid.replace(/-/g, '') === UUID) addMark(s.pts * 1000, s.userDataBytes);
      }
    });
    hls.on(E.FRAG_LOADED, function (_e, data) {
      var stats = data.part ? data.part.stats : data.frag.stats;
      st.bytes += stats.loaded || 0;
    });
    hls.on(E.ERROR, function (_e, data) { if (data.fatal) err('hls.js: ' + data.details); });
    hls.loadSource(cfg.url);
    hls.attachMedia(video);
    window.__rbPlayer = hls;
  }
  function playMpegts(cfg) {
    var M = window.mpegts;
    if (!M || !M.getFeatureList().mseLivePlayback) { err('mpegts.js: no MSE live playback here'); return; }
    var p = M.createPlayer({ type: 'flv', isLive: true, url: cfg.url });
    p.on(M.Events.SEI_ARRIVED, function (s) {
      if (s.type === 5 && s.uuid && s.user_data && hex(s.uuid, 0, 16) === UUID) addMark(s.pts, s.user_data);
    });
    p.on(M.Events.ERROR, function (t, d) { err('mpegts.js: ' + t + ' ' + d); });
    p.attachMediaElement(video);
    p.load();
    var r = p.play();
    if (r && r.catch) r.catch(function (e) { err('play: ' + e); });
    window.__rbPlayer = p;
  }
  // Bytes of the stream as they come in: mpegts.js reads HTTP-FLV with fetch and WS-FLV with a WebSocket.
  var realFetch = window.fetch.bind(window);
  window.fetch = function (input, init) {
    return realFetch(input, init).then(function (res) {
      if (!res.body) return res;
      var counted = res.body.pipeThrough(new TransformStream({
        transform: function (chunk, c) { st.bytes += chunk.byteLength; c.enqueue(chunk); }
      }));
      return new Response(counted, { status: res.status, statusText: res.statusText, headers: res.headers });
    });
  };
  var RealWs = window.WebSocket;
  window.WebSocket = function (url, protocols) {
    var ws = protocols === undefined ? new RealWs(url) : new RealWs(url, protocols);
    ws.addEventListener('message', function (e) { if (e.data && e.data.byteLength) st.bytes += e.data.byteLength; });
    return ws;
  };
  window.WebSocket.prototype = RealWs.prototype;
  ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'].forEach(function (k) { window.WebSocket[k] = RealWs[k]; });

  function playerLatency() {
    var p = window.__rbPlayer;
    return p && typeof p.latency === 'number' && p.latency > 0 && st.firstFrameMs >= 0 ? p.latency * 1000 : -1;
  }
  window.__rb = {
    start: function (cfg) {
      st.startMs = performance.now();
      video.requestVideoFrameCallback(onFrame);
      try {
        if (cfg.player === 'hls.js') {
          playHls(cfg);
          var r = video.play();
          if (r && r.catch) r.catch(function () {});
        } else playMpegts(cfg);
      } catch (e) { err(e && e.message ? e.message : e); }
    },
    drain: function () {
      var q = video.getVideoPlaybackQuality();
      var stallNow = st.stallStart >= 0 ? performance.now() - st.stallStart : 0;
      var out = {
        nowMs: performance.now(), frames: st.frames, framesOverflow: st.overflow, unreported: st.unreported,
        startMs: st.startMs, firstFrameMs: st.firstFrameMs, rebuffers: st.rebuffers,
        rebufferMs: st.rebufferMs + stallNow, stalled: st.stalled, dropped: q.droppedVideoFrames,
        decoded: q.totalVideoFrames, bytes: st.bytes, marksSeen: st.marksSeen, playerLatencyMs: playerLatency(),
        errors: st.errors.slice()
      };
      st.frames = [];
      st.overflow = 0;
      return out;
    },
    stop: function () {
      var p = window.__rbPlayer;
      if (p && p.destroy) p.destroy();
    }
  };
})();`;
