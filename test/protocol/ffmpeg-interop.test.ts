import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseFlv } from '../../src/media/flv-file.js';
import { parseData } from '../../src/protocol/commands.js';
import { MSG_AUDIO, MSG_DATA_AMF0, MSG_VIDEO } from '../../src/protocol/constants.js';
import { parseAudioTag, parseVideoTag } from '../../src/protocol/media-tags.js';
import { decodeWithCuts } from '../helpers/bytes.js';
import { MiniServer } from '../../bench/lib/mini-server.js';
import { hasTool, run, testSourceArgs } from '../helpers/tools.js';

const ffmpeg = hasTool('ffmpeg');
const work = mkdtempSync(join(tmpdir(), 'rtmpbench-interop-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function publishWithFfmpeg(extraArgs: string[] = []) {
  const server = new MiniServer();
  const port = await server.listen();
  const sessionP = server.nextSession();
  const result = await run('ffmpeg', [
    ...testSourceArgs({ seconds: 4, fps: 25, gopSeconds: 2 }),
    ...extraArgs,
    '-f',
    'flv',
    `rtmp://127.0.0.1:${port}/live/test`,
  ]);
  const session = await sessionP;
  await session.closed;
  await server.close();
  return { result, session };
}

describe.skipIf(!ffmpeg)('ffmpeg as a publishing client', () => {
  it('completes a digest handshake and every byte it sends decodes into the expected messages', async () => {
    const { result, session } = await publishWithFfmpeg();
    expect(result.code, result.stderr).toBe(0);
    expect(session.clientScheme).not.toBeNull(); // ffmpeg sends a digest C1
    expect(session.errors).toEqual([]);

    const names = session.commands.map((c) => c.name);
    expect(names.slice(0, 5)).toEqual(['connect', 'releaseStream', 'FCPublish', 'createStream', 'publish']);
    const connect = session.commands[0]!;
    expect(connect.commandObject).toMatchObject({ app: 'live', type: 'nonprivate' });
    expect(session.commands[4]!.args[0]).toBe('test');

    const data = session.messages.filter((m) => m.typeId === MSG_DATA_AMF0).map((m) => parseData(m.payload));
    expect(data[0]?.name).toBe('@setDataFrame');
    expect(data[0]?.values[1]).toMatchObject({
      width: 320,
      height: 240,
      framerate: 25,
      videocodecid: 7,
      audiocodecid: 10,
    });

    const video = session.messages
      .filter((m) => m.typeId === MSG_VIDEO)
      .map((m) => ({ ts: m.timestamp, ...parseVideoTag(m.payload) }));
    expect(video[0]).toMatchObject({ codec: 'avc', sequenceHeader: true });
    const frames = video.filter((v) => !v.sequenceHeader && !v.sequenceEnd);
    expect(frames).toHaveLength(100); // 4 s at 25 fps
    // ffmpeg starts video a few ms in (AAC priming); keyframes are the 1st and 51st frames, 2 s apart.
    const keyframes = frames.flatMap((f, i) => (f.keyframe ? [i] : []));
    expect(keyframes).toEqual([0, 50]);
    expect(frames[50]!.ts - frames[0]!.ts).toBe(2000);
    for (let i = 1; i < frames.length; i++) expect(frames[i]!.ts).toBeGreaterThan(frames[i - 1]!.ts);

    const audio = session.messages.filter((m) => m.typeId === MSG_AUDIO).map((m) => parseAudioTag(m.payload));
    expect(audio[0]).toMatchObject({ codec: 'aac', sequenceHeader: true });
    const aacFrames = audio.filter((a) => !a.sequenceHeader).length;
    expect(aacFrames).toBeGreaterThanOrEqual(170); // 4 s * 44100 / 1024 = 172
    expect(aacFrames).toBeLessThanOrEqual(175);
  });

  it('decodes the recorded byte stream identically however it is split', async () => {
    const { session } = await publishWithFfmpeg();
    const bytes = Buffer.concat(session.chunkStream);
    const live = session.messages.map((m) => [m.typeId, m.timestamp, m.payload.toString('base64')]);
    for (const pieces of [1, 7, 1000]) {
      const cuts = Array.from(
        { length: pieces - 1 },
        (_, i) => Math.floor(((i + 1) * bytes.length) / pieces) - (i % 3),
      );
      const replay = decodeWithCuts(bytes, cuts);
      expect(replay.errors).toEqual([]);
      expect(replay.raw.map((m) => [m.typeId, m.timestamp, m.payload.toString('base64')])).toEqual(live);
    }
  });

  it('reads extended timestamps when the stream starts above 2^24 ms', async () => {
    const { result, session } = await publishWithFfmpeg(['-output_ts_offset', '16800']);
    expect(result.code, result.stderr).toBe(0);
    expect(session.errors).toEqual([]);
    const video = session.messages.filter((m) => m.typeId === MSG_VIDEO);
    const frames = video
      .map((m) => ({ ts: m.timestamp, info: parseVideoTag(m.payload) }))
      .filter((v) => !v.info.sequenceHeader && !v.info.sequenceEnd);
    expect(frames).toHaveLength(100);
    expect(frames[0]!.ts).toBeGreaterThanOrEqual(16_800_000);
    expect(frames[99]!.ts - frames[0]!.ts).toBe(3960);
  });
});

describe.skipIf(!ffmpeg)('ffmpeg as a playing client', () => {
  it('completes a digest handshake, plays a stream written by the codec and decodes it without errors', async () => {
    const source = join(work, 'source.flv');
    const made = await run('ffmpeg', [
      ...testSourceArgs({ seconds: 2, fps: 25, gopSeconds: 1 }),
      '-f',
      'flv',
      '-y',
      source,
    ]);
    expect(made.code, made.stderr).toBe(0);
    const flv = parseFlv(readFileSync(source));
    const isFrame = (payload: Buffer) => {
      const info = parseVideoTag(payload);
      return !info.sequenceHeader && !info.sequenceEnd;
    };
    const videoFrames = flv.tags.filter((t) => t.typeId === MSG_VIDEO && isFrame(t.payload)).length;
    expect(videoFrames).toBe(50);

    for (const chunkSize of [128, 4096, 65536]) {
      const server = new MiniServer(flv.tags, chunkSize);
      const port = await server.listen();
      const out = join(work, `played-${chunkSize}.flv`);
      const played = await run('ffmpeg', [
        '-hide_banner',
        '-loglevel',
        'error',
        '-i',
        `rtmp://127.0.0.1:${port}/live/test`,
        '-c',
        'copy',
        '-f',
        'flv',
        '-y',
        out,
      ]);
      const session = await server.nextSession();
      await server.close();
      expect(played.code, played.stderr).toBe(0);
      expect(session.clientScheme).not.toBeNull();
      expect(session.commands.map((c) => c.name)).toContain('play');
      expect(session.errors).toEqual([]);

      const decoded = await run('ffmpeg', ['-v', 'error', '-i', out, '-f', 'null', '-']);
      expect(decoded.code).toBe(0);
      expect(decoded.stderr).toBe('');
      const copy = parseFlv(readFileSync(out));
      const copied = copy.tags.filter((t) => t.typeId === MSG_VIDEO && isFrame(t.payload));
      expect(copied, `chunk size ${chunkSize}`).toHaveLength(50);
    }
  });

  it('receives the connect command over AMF0 with the app from the URL', async () => {
    const server = new MiniServer([]);
    const port = await server.listen();
    await run(
      'ffmpeg',
      [
        '-hide_banner',
        '-loglevel',
        'error',
        '-rw_timeout',
        '2000000',
        '-i',
        `rtmp://127.0.0.1:${port}/myapp/key`,
        '-f',
        'null',
        '-',
      ],
      10_000,
    );
    const session = await server.nextSession();
    await server.close();
    const connect = session.commands.find((c) => c.name === 'connect');
    expect(connect?.commandObject).toMatchObject({ app: 'myapp', tcUrl: `rtmp://127.0.0.1:${port}/myapp` });
  });
});
