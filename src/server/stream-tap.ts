/**
 * What a live stream feeds besides its RTMP players: the HTTP outputs (HTTP-FLV, WebSocket-FLV,
 * HLS) of the stream, as one object. A stream holds at most one tap, and none while no HTTP
 * output is in use, so the RTMP path pays a null check and nothing more.
 */
export interface StreamTap {
  /**
   * Each audio, video or data message as the publisher sent it (AMF0 data, `@setDataFrame`
   * not yet rewritten), before the stream handles it. `payload` may view a read buffer that is
   * reused after the call: the tap copies what it keeps. Never throws.
   */
  onMessage(typeId: number, timestamp: number, payload: Buffer): void;
  /** The publisher left (after the stream's last frames). */
  onUnpublish(): void;
}
