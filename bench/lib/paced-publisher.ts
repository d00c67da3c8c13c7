/**
 * One publisher in a process of its own, paced every 2 ms (as the load generator gives
 * publishers a worker of their own): what it sends does not depend on how busy the viewers'
 * process is. Headers fmt 0 (see fmt0-publisher.ts), so the floor relay can hand its bytes on.
 * Prints `publishing` once the server accepted the publication; stops on SIGTERM.
 *
 *   node dist/bench/lib/paced-publisher.js --url rtmp://127.0.0.1:1935/live --stream bench [--video-bps 600000 --audio-bps 64000]
 */
import { parseRtmpUrl } from '../../src/client/url.js';
import { SyntheticSource } from '../../src/media/synthetic.js';
import { monotonicUs } from '../../src/media/timing-mark.js';
import { argValue } from './env.js';
import { Fmt0Publisher } from './fmt0-publisher.js';

const source = new SyntheticSource({
  videoBitrate: Number(argValue('video-bps') ?? 600_000),
  audioBitrate: Number(argValue('audio-bps') ?? 64_000),
  fps: 30,
  gopSeconds: Number(argValue('gop-seconds') ?? 2),
});
const publisher = await Fmt0Publisher.open(parseRtmpUrl(argValue('url')!), argValue('stream') ?? 'bench', source);
publisher.start();
setInterval(() => publisher.pump(monotonicUs()), 2);
console.log('publishing');
process.on('SIGTERM', () => {
  publisher.close();
  process.exit(0);
});
