/** A whole RTMP message as it crosses the chunk layer. */
export interface RtmpMessage {
  /** Chunk stream it arrived on (or is to be sent on). */
  csid: number;
  /** Message type id (MSG_* in constants.ts). */
  typeId: number;
  /** Message stream id (0 for NetConnection traffic). */
  streamId: number;
  /**
   * Timestamp in ms on a 64-bit clock: it keeps increasing past 2^32 although the wire
   * carries only its low 32 bits.
   */
  timestamp: number;
  payload: Buffer;
  /**
   * Reader side: true when `payload` was reassembled into a buffer from the reader's
   * allocator, which the receiver now owns and must release (or hand on); false when it is
   * a view of a socket read, which must not be mutated.
   */
  pooled: boolean;
  /**
   * Length of the message on the wire. Equals `payload.length` except when the reader skims
   * media (`skimMedia`): then `payload` is only the first bytes.
   */
  length: number;
}

/** What the chunk writer needs to send a message. */
export interface OutgoingMessage {
  csid: number;
  typeId: number;
  streamId: number;
  timestamp: number;
  payload: Buffer;
}
