import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasTool, run, testSourceArgs } from '../helpers/tools.js';
import { startServer, waitFor } from '../helpers/server.js';

const ready = hasTool('ffmpeg') && hasTool('rtmpdump') && hasTool('ffprobe', 'apt-get install ffmpeg');
const work = mkdtempSync(join(tmpdir(), 'rtmpbench-server-interop-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function videoFrames(file: string): Promise<number> {
  const r = await run('ffprobe', [
    '-v',
    'error',
    '-count_frames',
    '-select_streams',
    'v',
    '-show_entries',
    'stream=nb_read_frames',
    '-of',
    'csv=p=0',
    file,
  ]);
  return Number(r.stdout.trim());
}

async function decodeErrors(file: string): Promise<string> {
  const r = await run('ffmpeg', ['-v', 'error', '-i', file, '-f', 'null', '-']);
  return r.code === 0 ? r.stderr : `exit ${r.code}: ${r.stderr}`;
}

/**
 * ffmpeg and rtmpdump play (joining before the publisher), ffmpeg publishes 4 s of H.264/AAC
 * with a keyframe every 2 s, and both recordings must decode cleanly with all 100 frames.
 */
async function relay(
  name: string,
  settings: { chunkSize?: number },
  opts: { publishArgs?: string[]; rtmpdumpDigest?: boolean } = {},
) {
  const srv = await startServer(settings);
  const url = `rtmp://127.0.0.1:${srv.port}/live/${name}`;
  const ffOut = join(work, `${name}-ffmpeg.flv`);
  const rdOut = join(work, `${name}-rtmpdump.flv`);
  try {
    const ffPlay = run(
      'ffmpeg',
      ['-hide_banner', '-loglevel', 'error', '-i', url, '-c', 'copy', '-f', 'flv', '-y', ffOut],
      60_000,
    );
    // librtmp uses the simple handshake unless SWF verification data is given, then the digest one.
    const digestArgs = opts.rtmpdumpDigest ? ['--swfhash', `${'0'.repeat(63)}1`, '--swfsize', '12345'] : [];
    const rdPlay = run('rtmpdump', ['-q', '-r', url, '--live', ...digestArgs, '-o', rdOut], 60_000);
    await waitFor(() => srv.server.getStats().players === 2, 10_000, 'two players');
    const pub = await run('ffmpeg', [
      ...testSourceArgs({ seconds: 4, fps: 25, gopSeconds: 2 }),
      ...(opts.publishArgs ?? []),
      '-f',
      'flv',
      url,
    ]);
    expect(pub.code, pub.stderr).toBe(0);
    const [ff, rd] = await Promise.all([ffPlay, rdPlay]);
    expect(ff.code, ff.stderr).toBe(0);
    expect(rd.code, rd.stderr).toBe(0);
    expect(await decodeErrors(ffOut)).toBe('');
    expect(await decodeErrors(rdOut)).toBe('');
    expect(await videoFrames(ffOut)).toBe(100);
    expect(await videoFrames(rdOut)).toBe(100);
    // ffmpeg (publisher and player) always uses the digest handshake; rtmpdump as asked.
    const kinds = srv.logs
      .filter((l) => l.includes(' handshake '))
      .map((l) => /kind=(\w+)/.exec(l)![1])
      .sort();
    expect(kinds).toEqual(opts.rtmpdumpDigest ? ['digest', 'digest', 'digest'] : ['digest', 'digest', 'simple']);
    expect(srv.logs.filter((l) => / (warn|error) /.test(l))).toEqual([]);
  } finally {
    await srv.close();
  }
}

describe.skipIf(!ready)('the built-in server with real clients (ffmpeg, rtmpdump)', () => {
  it('relays ffmpeg H.264/AAC to ffmpeg and rtmpdump players at the default chunk size (simple handshake for rtmpdump)', async () => {
    await relay('default', {});
  });

  it('relays with every client on the digest handshake', async () => {
    await relay('digest', {}, { rtmpdumpDigest: true });
  });

  it('relays at chunk size 128', async () => {
    await relay('c128', { chunkSize: 128 });
  });

  it('relays at chunk size 65536', async () => {
    await relay('c65536', { chunkSize: 65536 }, { rtmpdumpDigest: true });
  });

  it('relays a stream whose timestamps start above 2^24 ms (extended timestamps on every chunk)', async () => {
    await relay('ext', {}, { publishArgs: ['-output_ts_offset', '16800'] });
  });

  it('gives a late ffmpeg joiner the cached GOP, so it decodes from its first frame', async () => {
    const srv = await startServer({});
    const url = `rtmp://127.0.0.1:${srv.port}/live/late`;
    const out = join(work, 'late.flv');
    try {
      const pub = run(
        'ffmpeg',
        ['-re', ...testSourceArgs({ seconds: 5, fps: 25, gopSeconds: 2 }), '-f', 'flv', url],
        60_000,
      );
      await waitFor(
        () => srv.server.getStats().streams.some((s) => s.videoFramesIn >= 60),
        10_000,
        'publisher past its second keyframe',
      );
      const play = await run(
        'ffmpeg',
        ['-hide_banner', '-loglevel', 'error', '-i', url, '-c', 'copy', '-f', 'flv', '-y', out],
        60_000,
      );
      expect((await pub).code).toBe(0);
      expect(play.code, play.stderr).toBe(0);
      expect(await decodeErrors(out)).toBe('');
      // Joined after frame 60: the GOP cache starts it at the keyframe of frame 50.
      expect(await videoFrames(out)).toBeGreaterThanOrEqual(70);
      expect(await videoFrames(out)).toBeLessThanOrEqual(76);
    } finally {
      await srv.close();
    }
  });
});
