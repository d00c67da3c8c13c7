/**
 * How a viewer receives a stream: RTMP itself, or one of the HTTP deliveries servers derive
 * from it. One list for the clients, the server's outputs, scenarios and results.
 */
export const VIEWER_PROTOCOLS = ['rtmp', 'http-flv', 'ws-flv', 'hls'] as const;
/** What browser viewers play (load/browser/): hls.js (ll-hls: its lowLatencyMode) and mpegts.js. */
export const BROWSER_PROTOCOLS = ['hls', 'll-hls', 'http-flv', 'ws-flv'] as const;
export type BrowserProtocol = (typeof BROWSER_PROTOCOLS)[number];
export type ViewerProtocol = (typeof VIEWER_PROTOCOLS)[number];

/** The key of a protocol in results and threshold names (httpFlv.frames.lost). */
export const PROTOCOL_KEYS = {
  rtmp: 'rtmp',
  'http-flv': 'httpFlv',
  'ws-flv': 'wsFlv',
  hls: 'hls',
} as const satisfies Record<ViewerProtocol, string>;
export type ProtocolKey = (typeof PROTOCOL_KEYS)[ViewerProtocol];
export const PROTOCOL_KEY_LIST = Object.values(PROTOCOL_KEYS) as ProtocolKey[];
