export { runToEnd as run, type RunResult } from '../../src/proc/spawn.js';

/** ffmpeg arguments for a test source: H.264 (libx264) + AAC with a keyframe every `gopSeconds`. */
export function testSourceArgs(opts: {
  seconds: number;
  fps?: number;
  size?: string;
  gopSeconds?: number;
  videoKbps?: number;
  /** Moving noise over testsrc2, so the encoder really spends the bitrate it is given. */
  noisy?: boolean;
}): string[] {
  const fps = opts.fps ?? 25;
  const gop = Math.round(fps * (opts.gopSeconds ?? 2));
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    '-f',
    'lavfi',
    '-i',
    `${opts.noisy ? 'testsrc2' : 'testsrc'}=size=${opts.size ?? '320x240'}:rate=${fps}`,
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:sample_rate=44100',
    '-t',
    String(opts.seconds),
    ...(opts.noisy ? ['-vf', 'noise=alls=12:allf=t'] : []),
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-tune',
    'zerolatency',
    '-pix_fmt',
    'yuv420p',
    '-g',
    String(gop),
    '-keyint_min',
    String(gop),
    '-sc_threshold',
    '0',
    ...(opts.videoKbps
      ? ['-b:v', `${opts.videoKbps}k`, '-maxrate', `${opts.videoKbps}k`, '-bufsize', `${opts.videoKbps * 2}k`]
      : []),
    '-c:a',
    'aac',
    '-b:a',
    '64k',
  ];
}
