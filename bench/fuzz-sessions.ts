/**
 * Fuzzing the built-in server with real sessions, the long run: mutated copies of what ffmpeg
 * sends when it publishes and plays, and of HTTP-FLV, HLS and WebSocket-FLV requests and frames,
 * against the server in its own process (RTMP and HTTP outputs), while a healthy stream is
 * published and watched over RTMP and HTTP-FLV (bench/lib/fuzz-campaign.ts says what is sent
 * and checked). Run once with the server's defaults and once more with `--server` flags, e.g.
 * HLS muxed from the publish on, so mutated media reaches the MPEG-TS muxer; `--ll-hls` adds
 * LL-HLS requests with random delivery directives (give the server --hls-part-ms).
 *
 *   npm run build && node dist/bench/fuzz-sessions.js [--rtmp 10000] [--http 5000] [--seed 1]
 *        [--concurrency 8] [--server "--hls-on-demand off"] [--ll-hls] [--out FILE]
 *
 * Prints one verdict line per run; exit 0 when every check passed, 1 when one failed.
 */
import { fuzzCampaign } from './lib/fuzz-campaign.js';
import { argValue, environment, writeResult } from './lib/env.js';

const rtmp = Number(argValue('rtmp') ?? 10_000);
const http = Number(argValue('http') ?? 5000);
const seed = Number(argValue('seed') ?? 1);
const concurrency = Number(argValue('concurrency') ?? 8);
const serverArgs = (argValue('server') ?? '').split(' ').filter(Boolean);
const llHls = process.argv.includes('--ll-hls');

async function main(): Promise<void> {
  let last = 0;
  const r = await fuzzCampaign({
    rtmp,
    http,
    seed,
    concurrency,
    serverArgs,
    llHls,
    onProgress: (done, total) => {
      if (done - last >= 1000 || done === total) {
        last = done;
        process.stderr.write(`${done}/${total}\n`);
      }
    },
  });
  const line = `fuzz ${r.passed ? 'PASS' : 'FAIL'}: ${rtmp} RTMP sessions and ${http} HTTP requests, seed ${seed}${serverArgs.length > 0 ? `, server ${serverArgs.join(' ')}` : ''}, in ${r.durationSec} s; ${r.checks.map((c) => `${c.passed ? '' : 'FAILED '}${c.detail}`).join('; ')}`;
  console.log(line);
  const path = writeResult(
    'fuzz-sessions',
    {
      bench: 'fuzz-sessions',
      env: environment(),
      command: `node dist/bench/fuzz-sessions.js ${process.argv.slice(2).join(' ')}`.trim(),
      settings: { rtmp, http, seed, concurrency, serverArgs, llHls },
      ...r,
    },
    argValue('out'),
  );
  process.stderr.write(`written to ${path}\n`);
  process.exitCode = r.passed ? 0 : 1;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 3;
});
