import { describe, expect, it } from 'vitest';
import { play, publish } from '../helpers/media.js';
import { startServer, waitFor } from '../helpers/server.js';

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('GOP cache bursts in bounded pieces (burstBytes)', () => {
  for (const burstBytes of [0, 4096]) {
    it(`a late joiner still starts at the cached keyframe and gets every frame after it in order (burstBytes ${burstBytes})`, async () => {
      const srv = await startServer({ gopCache: true, burstBytes });
      try {
        const watcher = await play(srv.url(), 'b');
        const pub = await publish(srv.url(), 'b', { seconds: 3, gopSeconds: 1, videoBitrate: 2_000_000 });
        await waitFor(() => pub.publisher.videoFramesSent >= 50);
        const sentAtJoin = pub.publisher.videoFramesSent;
        const writesBefore = srv.server.getStats().io.writes;
        const joiner = await play(srv.url(), 'b');
        await pub.done;
        const sent = pub.publisher.videoFramesSent;
        await waitFor(
          () => joiner.seqs.length > 0 && joiner.seqs[joiner.seqs.length - 1] === sent - 1,
          5000,
          'the joiner to catch up',
        );
        const lastKeyframe = Math.floor((sentAtJoin - 1) / 30) * 30;
        expect(joiner.frames[0]!.keyframe).toBe(true);
        expect(joiner.seqs[0]).toBe(lastKeyframe);
        expect(joiner.seqs).toEqual(range(lastKeyframe, sent));
        // The player already watching lost nothing either.
        await waitFor(() => watcher.seqs.length === sent);
        expect(watcher.seqs).toEqual(range(0, sent));
        if (burstBytes > 0) {
          // The cache (about 8 KB a frame here) went out in several writes, not one.
          const gopBytes = (sentAtJoin - lastKeyframe) * 8000;
          expect(srv.server.getStats().io.writes - writesBefore).toBeGreaterThan(gopBytes / burstBytes / 2);
        }
        pub.stop(true);
        joiner.player.close();
        watcher.player.close();
      } finally {
        await srv.close();
      }
    });
  }
});
