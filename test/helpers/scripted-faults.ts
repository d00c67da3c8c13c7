/** What the scripted server (scripted-server.ts) gets wrong on purpose: one field per fault, all off by default. */
export interface Faults {
  // Handshake
  /** Close when C1's version field is zero (refuses the simple handshake). */
  rejectSimpleHandshake?: boolean;
  /** Answer digest clients with a digest S1 but an S2 of random bytes (not signed). */
  unsignedS2?: boolean;
  /** Bytes that arrive with C0 and C1 (an early C2) are thrown away. */
  dropEarlyC2?: boolean;
  /** Bytes that arrive in the same read as C2 are thrown away. */
  dropAfterC2?: boolean;
  // Chunking
  /** Close on Set Chunk Size above / below this. */
  maxInChunkSize?: number;
  minInChunkSize?: number;
  /** Ignore Set Chunk Size (keep reading 128-byte chunks). */
  ignoreSetChunkSize?: boolean;
  /** Close on a chunk stream id above this. */
  maxCsid?: number;
  /** Ignore Abort. */
  ignoreAbort?: boolean;
  /** Assume a message's chunks come together: a chunk of another chunk stream mid-message is read as its rest. */
  noInterleave?: boolean;
  /** fmt 1 and 2 timestamp fields are read as absolute times. */
  deltaAsAbsolute?: boolean;
  /** A message that starts with a fmt-3 header gets the last timestamp (no delta). */
  fmt3WithoutDelta?: boolean;
  // Timestamps
  /** Extended timestamps on type-3 chunks: the reader expects them 'always' or 'never'. */
  readExtendedOnType3?: 'always' | 'never';
  /** The writer leaves the extended timestamp out of its type-3 chunks. */
  omitExtendedOnType3?: boolean;
  /** Messages whose 64-bit clock passed 2^32 ms are dropped. */
  dropPast2pow32?: boolean;
  /** Messages with a timestamp below the last one are dropped. */
  dropBackwards?: boolean;
  /** Players get timestamps minus the stream's first one. */
  rebase?: boolean;
  // Commands and AMF
  /** Type-17 commands get no answer. */
  ignoreAmf3Commands?: boolean;
  /** Close on an AMF3 (avmplus) value in a command. */
  closeOnAvmplus?: boolean;
  /** connect with objectEncoding 3 is answered with objectEncoding 0 / closed. */
  objectEncoding?: 'answer-0' | 'close';
  /** Close on a date in a command or in metadata (metadata with a date is dropped). */
  noDates?: boolean;
  /** Metadata: relayed with @setDataFrame / rewritten to a few fields / dropped. */
  metadata?: 'keep-set-data-frame' | 'rewrite' | 'drop';
  /** Type-15 data messages are dropped. */
  dropAmf3Data?: boolean;
  /** Unknown commands get no answer. */
  ignoreUnknownCommands?: boolean;
  /** Close on FCPublish. */
  closeOnFcPublish?: boolean;
  /** play with start >= 0 is refused with StreamNotFound / play with start -1 is refused. */
  playStart?: 'live-only' | 'refuse-minus-1';
  /** deleteStream does nothing. */
  ignoreDeleteStream?: boolean;
  // Flow control
  /** Acknowledgements: never, or only every 4 windows. */
  acks?: 'never' | 'every-4-windows';
  /** Close on Set Peer Bandwidth from the client. */
  closeOnPeerBandwidth?: boolean;
  /** Pings: no answer, or an answer with another time. */
  ping?: 'ignore' | 'wrong-time';
  /** Close on SetBufferLength for message stream 0. */
  closeOnSetBufferLength0?: boolean;
  // Media
  /** Flip a byte in media payloads above 1000 bytes. */
  corruptMedia?: boolean;
  /** Drop Enhanced RTMP video (ExHeader bit set) / only multitrack / only ModEx packets. */
  dropEnhancedVideo?: 'all' | 'multitrack' | 'modex';
  /** Close on a message longer than this. */
  maxMessageBytes?: number;
  /** A player gets no audio until it got a video keyframe. */
  audioWaitsForVideo?: boolean;
  /** A player gets no video until it got audio. */
  videoWaitsForAudio?: boolean;
  /** The chunk size the server writes with (default 4096). */
  outChunkSize?: number;
  /** Reject connect with a fourCcList. */
  rejectFourCcList?: boolean;
  // Sessions
  /** play of a name nobody publishes: StreamNotFound. */
  playNeedsPublisher?: boolean;
  /** A second publisher is accepted and both are relayed. */
  mixPublishers?: boolean;
  /** On unpublish players are detached silently (and not re-attached). */
  dropPlayersOnUnpublish?: boolean;
  /** Players are not told of unpublish. */
  silentUnpublish?: boolean;
  /** The query of a stream key stays in the name. */
  keepQueryInName?: boolean;
  /** Stop the whole server (close every socket and the listener) on an AMF3 value / a date in a command. */
  dieOnAvmplus?: boolean;
  dieOnDate?: boolean;
}
