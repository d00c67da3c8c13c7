import { parseRtmpUrl } from '../client/url.js';
import { PROTOCOL_KEYS, type ViewerProtocol } from '../protocol/delivery.js';
import type { Scenario, ViewerGroup } from '../results/scenario.js';

/**
 * Where each viewer group plays: a URL template with {host}, {port} (RTMP), {httpPort}, {app}
 * and {stream}, filled in once the target is known ({stream} last, by the worker). The defaults
 * are the built-in server's paths.
 */
export const DEFAULT_PLAY_URLS: Record<ViewerProtocol, string> = {
  rtmp: 'rtmp://{host}:{port}/{app}/{stream}',
  'http-flv': 'http://{host}:{httpPort}/{app}/{stream}.flv',
  'ws-flv': 'ws://{host}:{httpPort}/{app}/{stream}.flv',
  hls: 'http://{host}:{httpPort}/{app}/{stream}/index.m3u8',
};

/** The viewer groups of a scenario: its players first, then its `viewers`. */
export function viewerGroups(s: Scenario): ViewerGroup[] {
  return [
    {
      protocol: s.players.protocol ?? 'rtmp',
      perStream: s.players.perStream,
      ...(s.players.url !== undefined ? { url: s.players.url } : {}),
      ...(s.players.name !== undefined ? { name: s.players.name } : {}),
    },
    ...(s.viewers ?? []),
  ];
}

/** Whether any viewer of the scenario plays over HTTP (the built-in server then serves HTTP too). */
export function needsHttp(s: Scenario): boolean {
  return viewerGroups(s).some((g) => g.protocol !== 'rtmp' && g.perStream > 0) || (s.browsers?.length ?? 0) > 0;
}

/** A template with everything but {stream} filled in from the target's RTMP URL and HTTP port. */
export function fillPlayUrl(template: string, targetUrl: string, httpPort: number | undefined): string {
  const t = parseRtmpUrl(targetUrl);
  return template
    .replaceAll('{host}', t.host)
    .replaceAll('{port}', String(t.port))
    .replaceAll('{httpPort}', httpPort !== undefined ? String(httpPort) : '{httpPort}')
    .replaceAll('{app}', t.app);
}

/**
 * The scenario against a server that serves its HTTP viewers at `urls`: each group without a
 * URL of its own takes the server's for its protocol; a group whose protocol the server does
 * not serve is left out (and named in `left`).
 */
export function withServerUrls(
  s: Scenario,
  urls: { [P in ViewerProtocol]?: string | undefined },
): { scenario: Scenario; left: ViewerProtocol[] } {
  const left: ViewerProtocol[] = [];
  const withUrl = <G extends { protocol?: ViewerProtocol | undefined; url?: string | undefined; perStream: number }>(
    g: G,
  ): G | null => {
    const protocol = g.protocol ?? 'rtmp';
    if (protocol === 'rtmp' || g.url !== undefined || g.perStream === 0) return g;
    const url = urls[protocol];
    if (url !== undefined) return { ...g, url };
    left.push(protocol);
    return null;
  };
  const players = withUrl(s.players) ?? { ...s.players, perStream: 0, slowPerStream: 0 };
  const viewers = (s.viewers ?? []).map((v) => withUrl(v)).filter((v) => v !== null);
  // Browser viewers likewise (LL-HLS plays the server's HLS playlist); those it does not serve are left out.
  const browsers = (s.browsers ?? []).flatMap((b) => {
    if (b.url !== undefined) return [b];
    const protocol = b.protocol === 'll-hls' ? 'hls' : b.protocol;
    const url = urls[protocol];
    if (url !== undefined) return [{ ...b, url }];
    if (!left.includes(protocol)) left.push(protocol);
    return [];
  });
  // Thresholds on the viewers left out do not apply to this server.
  const gone = left.map((p) => `${PROTOCOL_KEYS[p]}.`);
  const thresholds = s.thresholds.filter((t) => !gone.some((g) => t.trim().startsWith(g)));
  return {
    scenario: {
      ...s,
      players,
      thresholds,
      ...(s.viewers !== undefined ? { viewers } : {}),
      ...(s.browsers !== undefined ? { browsers } : {}),
    },
    left,
  };
}

export function streamUrl(filled: string, stream: string): string {
  return filled.replaceAll('{stream}', encodeURIComponent(stream));
}
