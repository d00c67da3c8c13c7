import { MAX_WRITE_CHUNK_SIZE } from '../../protocol/constants.js';
import { OPT_IN_GROUPS } from '../../results/probe.js';
import type { ProbeDefinition } from './context.js';
import * as chunking from './groups/chunking.js';
import * as commands from './groups/commands.js';
import * as flow from './groups/flow-control.js';
import * as handshake from './groups/handshake.js';
import * as media from './groups/media.js';
import * as resilience from './groups/resilience.js';
import * as resilienceHttp from './groups/resilience-http.js';
import * as sessions from './groups/sessions.js';
import * as timestamps from './groups/timestamps.js';

/**
 * Every probe, once: stable id, group, title, what passes, what it needs of the server, and
 * the function that runs it (in groups/). Reports, --only and --list come from here.
 * Ids never change meaning; a new behaviour gets a new id.
 */
export const PROBES: readonly ProbeDefinition[] = [
  // Handshake
  {
    id: 'handshake.simple',
    group: 'handshake',
    needs: 'tcp',
    title: 'simple handshake (C1 of zeros)',
    definition: 'a C1 with a zero version field and zero random bytes completes the handshake and connect is answered',
    run: handshake.simple,
  },
  {
    id: 'handshake.digest-8',
    group: 'handshake',
    needs: 'tcp',
    title: 'digest handshake, offset scheme 8',
    definition:
      'a Flash Player 9 digest C1 (digest offset from bytes 8..11, as ffmpeg and librtmp) ' +
      'completes; a digest answer must be valid (S1 digest, S2 signed against ours)',
    run: handshake.digestScheme8,
  },
  {
    id: 'handshake.digest-772',
    group: 'handshake',
    needs: 'tcp',
    title: 'digest handshake, offset scheme 772',
    definition:
      'a digest C1 under the second scheme (offset from bytes 772..775) completes; a digest answer must be valid',
    run: handshake.digestScheme772,
  },
  {
    id: 'handshake.c2-early',
    group: 'handshake',
    needs: 'tcp',
    title: 'C0, C1 and C2 in one write',
    definition:
      'a client that sends C2 with C0 and C1, before S1 arrived, gets through the handshake ' +
      'and its connect is answered',
    run: handshake.c2Early,
  },
  {
    id: 'handshake.c2-with-connect',
    group: 'handshake',
    needs: 'tcp',
    title: 'C2 and connect in one write',
    definition: 'a connect command in the same write as C2 is read and answered',
    run: handshake.c2WithConnect,
  },
  {
    id: 'handshake.server-s1',
    group: 'handshake',
    needs: 'tcp',
    title: 'what S1 says about the server',
    definition: 'info: S1 time and version fields, its digest scheme, and the S2 form for digest and simple clients',
    run: handshake.serverS1,
  },
  {
    id: 'handshake.other-version',
    group: 'handshake',
    needs: 'tcp',
    title: 'C0 asking for version 6',
    definition: 'info: what the server does with an RTMPE version byte (answers 3, answers 6, closes)',
    run: handshake.otherVersion,
  },

  // Chunking
  {
    id: 'chunking.chunk-size-128',
    group: 'chunking',
    needs: 'relay',
    title: 'Set Chunk Size 128 from the publisher',
    definition: 'media in 128-byte chunks (messages up to 150 KB) reaches the viewer byte for byte',
    run: chunking.chunkSize(128),
  },
  {
    id: 'chunking.chunk-size-4096',
    group: 'chunking',
    needs: 'relay',
    title: 'Set Chunk Size 4096 from the publisher',
    definition: 'media in 4096-byte chunks reaches the viewer byte for byte',
    run: chunking.chunkSize(4096),
  },
  {
    id: 'chunking.chunk-size-65536',
    group: 'chunking',
    needs: 'relay',
    title: 'Set Chunk Size 65536 from the publisher',
    definition: 'media in 65536-byte chunks reaches the viewer byte for byte',
    run: chunking.chunkSize(MAX_WRITE_CHUNK_SIZE),
  },
  {
    id: 'chunking.chunk-size-max',
    group: 'chunking',
    needs: 'relay',
    title: 'Set Chunk Size 0x7FFFFFFF from the publisher',
    definition:
      'with the largest chunk size the spec allows (every message one chunk), media reaches the viewer byte for byte',
    run: chunking.chunkSize(0x7fffffff),
  },
  {
    id: 'chunking.csid-1-byte',
    group: 'chunking',
    needs: 'relay',
    title: 'media on chunk stream 10 (1-byte basic header)',
    definition: 'media sent on chunk stream id 10 reaches the viewer byte for byte',
    run: chunking.chunkStreamId(10),
  },
  {
    id: 'chunking.csid-2-byte',
    group: 'chunking',
    needs: 'relay',
    title: 'media on chunk stream 100 (2-byte basic header)',
    definition: 'media sent on chunk stream id 100 (64..319: 2-byte basic header) reaches the viewer byte for byte',
    run: chunking.chunkStreamId(100),
  },
  {
    id: 'chunking.csid-3-byte',
    group: 'chunking',
    needs: 'relay',
    title: 'media on chunk stream 1000 (3-byte basic header)',
    definition: 'media sent on chunk stream id 1000 (320+: 3-byte basic header) reaches the viewer byte for byte',
    run: chunking.chunkStreamId(1000),
  },
  {
    id: 'chunking.chunk-stream-limit',
    group: 'chunking',
    needs: 'connect',
    title: 'chunk streams one connection may open',
    definition: 'info: the most chunk stream ids (2, 3, 4...) one connection may use at once, up to 1000',
    limitMs: 25_000,
    run: chunking.chunkStreamLimit,
  },
  {
    id: 'chunking.interleaved',
    group: 'chunking',
    needs: 'relay',
    title: 'chunks of three messages interleaved',
    definition:
      'three messages cut in 128-byte chunks, the chunks alternating between three chunk ' +
      'streams, each reach the viewer byte for byte',
    run: chunking.interleaved,
  },
  {
    id: 'chunking.abort',
    group: 'chunking',
    needs: 'relay',
    title: 'Abort mid-message',
    definition:
      'after four chunks of a message and Abort for its chunk stream, the next message on that ' +
      'chunk stream reaches the viewer intact and the aborted one never does',
    run: chunking.abort,
  },
  {
    id: 'chunking.header-compression',
    group: 'chunking',
    needs: 'relay',
    title: 'fmt 1 and fmt 2 headers (deltas)',
    definition:
      'messages with fmt 1 (new length) and fmt 2 (same length) headers reach the viewer byte ' +
      'for byte with the timestamps their deltas give',
    run: chunking.headerCompression,
  },
  {
    id: 'chunking.fmt3-new-message',
    group: 'chunking',
    needs: 'relay',
    title: 'a new message starting with a fmt-3 header',
    definition:
      'messages that start with a fmt-3 header (same length, same delta as the last) reach the ' +
      'viewer with the timestamps the repeated delta gives',
    run: chunking.fmt3NewMessage,
  },

  // Timestamps
  {
    id: 'timestamps.extended',
    group: 'timestamps',
    needs: 'relay',
    title: 'extended timestamps (> 2^24 ms), repeated on type-3 chunks',
    definition:
      'media from 16 777 216 ms on (extended field repeated on type-3 chunks, as the spec ' +
      'says) reaches the viewer intact, and where the server sends extended timestamps it ' +
      'repeats them on its own type-3 chunks',
    run: timestamps.extendedRepeated,
  },
  {
    id: 'timestamps.extended-not-repeated',
    group: 'timestamps',
    needs: 'relay',
    title: 'extended timestamps left out of type-3 chunks',
    definition:
      'media from 16 777 216 ms on, from a publisher that leaves the extended field out of ' +
      'type-3 chunks (as some encoders do), reaches the viewer intact',
    run: timestamps.extendedNotRepeated,
  },
  {
    id: 'timestamps.wrap',
    group: 'timestamps',
    needs: 'relay',
    title: 'timestamps wrapping past 2^32 ms',
    definition:
      'media whose clock crosses 2^32 ms (fmt-1 deltas, the wire value wrapping to small) ' +
      'reaches the viewer, every frame, timestamps continuing modulo 2^32',
    run: timestamps.wrap,
  },
  {
    id: 'timestamps.backwards',
    group: 'timestamps',
    needs: 'relay',
    title: 'timestamps going back',
    definition:
      'after a 4 s jump back in time (an encoder restart), every frame still reaches the ' +
      'viewer intact (the evidence says what happened to the timestamps)',
    run: timestamps.backwards,
  },
  {
    id: 'timestamps.viewer-timeline',
    group: 'timestamps',
    needs: 'relay',
    title: 'timestamps a viewer gets',
    definition: "info: whether viewers get the publisher's timestamps as sent or rebased",
    run: timestamps.viewerTimeline,
  },

  // Commands and AMF
  {
    id: 'commands.amf3-envelope',
    group: 'commands',
    needs: 'publish',
    title: 'commands as message type 17 (AMF3 envelope)',
    definition: 'connect, createStream and publish sent as type-17 messages (format byte, AMF0 values) are answered',
    run: commands.amf3Envelope,
  },
  {
    id: 'commands.object-encoding-3',
    group: 'commands',
    needs: 'tcp',
    title: 'connect with objectEncoding 3',
    definition:
      'connect asking for AMF3 is accepted and the _result agrees (n/a: the server answers ' +
      'objectEncoding 0 or refuses, speaking AMF0 only)',
    run: commands.objectEncoding3,
  },
  {
    id: 'commands.connect-amf-types',
    group: 'commands',
    needs: 'tcp',
    isolated: true,
    title: 'strict array, ECMA array, date in connect',
    definition:
      'connect is answered when its command object holds a strict array, an ECMA array, a date ' +
      'or nested objects, and when optional user arguments follow (each on a connection ' +
      'of its own)',
    run: commands.connectAmfTypes,
  },
  {
    id: 'commands.amf3-values',
    group: 'commands',
    needs: 'publish',
    isolated: true,
    title: 'AMF3 values in commands',
    definition:
      'after connect with objectEncoding 3, createStream and publish carrying AMF3 values ' +
      '(behind the avmplus marker) are understood',
    run: commands.amf3Values,
  },
  {
    id: 'commands.metadata',
    group: 'commands',
    needs: 'relay',
    title: 'onMetaData via @setDataFrame',
    definition:
      "the publisher's @setDataFrame onMetaData (numbers, strings, booleans, a nested object) " +
      'reaches viewers as onMetaData with every property intact (n/a: the server rewrites ' +
      'metadata by design)',
    run: commands.metadataPassthrough,
  },
  {
    id: 'commands.metadata-amf-types',
    group: 'commands',
    needs: 'relay',
    title: 'strict array and date in metadata',
    definition:
      'metadata holding a strict array and a date reaches viewers as onMetaData with those ' +
      'values intact (n/a: the server rewrites metadata by design)',
    run: commands.metadataAmfTypes,
  },
  {
    id: 'commands.metadata-amf3',
    group: 'commands',
    needs: 'relay',
    title: '@setDataFrame as message type 15',
    definition:
      'metadata sent as a type-15 data message (AMF3 envelope) reaches viewers as onMetaData ' +
      'with every property intact',
    run: commands.metadataAmf3,
  },
  {
    id: 'commands.unknown',
    group: 'commands',
    needs: 'connect',
    title: 'an unknown command',
    definition:
      'a command the server does not know, sent with a transaction id, gets an _error (or ' +
      '_result) and the connection stays usable',
    run: commands.unknownCommand,
  },
  {
    id: 'commands.fcpublish',
    group: 'commands',
    needs: 'publish',
    title: 'releaseStream, FCPublish and FCUnpublish',
    definition:
      'publish preceded by releaseStream and FCPublish starts, and FCUnpublish with ' +
      'deleteStream leave the connection open',
    run: commands.fcPublish,
  },
  {
    id: 'commands.play-arguments',
    group: 'commands',
    needs: 'relay',
    title: 'play with start -2, -1 and 0',
    definition:
      'players with start -2 (live or recorded), -1 (live only) and 0 all get the live stream ' +
      '(n/a: start 0, recorded only, refused with a status)',
    run: commands.playArguments,
  },
  {
    id: 'commands.delete-stream',
    group: 'commands',
    needs: 'relay',
    title: 'deleteStream ends a publication',
    definition:
      'after deleteStream on a publishing NetStream (connection kept open) a new publisher gets the name at once',
    run: commands.deleteStream,
  },

  // Flow control
  {
    id: 'flow-control.acknowledgements',
    group: 'flow-control',
    needs: 'publish',
    title: "acknowledgements at the client's window",
    definition:
      'with a Window Acknowledgement Size of 100 000 from the publisher, the server sends an ' +
      'Acknowledgement for every window of about 1 MB of media',
    run: flow.acknowledgements,
  },
  {
    id: 'flow-control.server-announcements',
    group: 'flow-control',
    needs: 'connect',
    title: 'what the server announces',
    definition:
      'info: the Window Acknowledgement Size, Set Peer Bandwidth and Set Chunk Size the server sends around connect',
    run: flow.serverAnnouncements,
  },
  {
    id: 'flow-control.peer-bandwidth',
    group: 'flow-control',
    needs: 'publish',
    title: 'Set Peer Bandwidth from the client',
    definition: 'after the client sends Set Peer Bandwidth (hard limit) and its own window, publishing still works',
    run: flow.peerBandwidth,
  },
  {
    id: 'flow-control.ping',
    group: 'flow-control',
    needs: 'connect',
    title: 'User Control ping',
    definition: 'a PingRequest from the client gets a PingResponse carrying the same time',
    run: flow.ping,
  },
  {
    id: 'flow-control.set-buffer-length',
    group: 'flow-control',
    needs: 'relay',
    title: 'SetBufferLength',
    definition:
      'a player that sends SetBufferLength for stream 0 and for its stream, before and during play, gets the media',
    run: flow.setBufferLength,
  },

  // Media
  {
    id: 'media.avc-aac',
    group: 'media',
    needs: 'relay',
    title: 'legacy AVC and AAC',
    definition:
      'sequence headers, a keyframe, inter frames and AAC frames reach the viewer byte for ' +
      'byte, timestamps as sent or shifted by one offset',
    run: media.avcAac,
  },
  {
    id: 'media.fourcc-list',
    group: 'media',
    needs: 'tcp',
    title: 'Enhanced RTMP fourCcList in connect',
    definition:
      'connect with a fourCcList (a strict array of FourCCs, as OBS sends) is accepted; the ' +
      'evidence says what the _result declares',
    run: media.fourCcList,
  },
  {
    id: 'media.hevc',
    group: 'media',
    needs: 'relay',
    title: 'HEVC (Enhanced RTMP hvc1)',
    definition: 'SequenceStart, CodedFrames and CodedFramesX of hvc1 reach the viewer byte for byte',
    run: media.enhanced('hevc'),
  },
  {
    id: 'media.av1',
    group: 'media',
    needs: 'relay',
    title: 'AV1 (Enhanced RTMP av01)',
    definition: 'SequenceStart (av1C) and coded frames of av01 reach the viewer byte for byte',
    run: media.enhanced('av1'),
  },
  {
    id: 'media.vp9',
    group: 'media',
    needs: 'relay',
    title: 'VP9 (Enhanced RTMP vp09)',
    definition: 'SequenceStart (vpcC) and coded frames of vp09 reach the viewer byte for byte',
    run: media.enhanced('vp9'),
  },
  {
    id: 'media.multitrack',
    group: 'media',
    needs: 'relay',
    title: 'multitrack video',
    definition: 'Enhanced RTMP multitrack messages (two hvc1 tracks each) reach the viewer byte for byte',
    run: media.multitrack,
  },
  {
    id: 'media.modex',
    group: 'media',
    needs: 'relay',
    title: 'ModEx (nanosecond timestamp offset)',
    definition: 'HEVC frames behind a ModEx prefix reach the viewer byte for byte',
    run: media.modEx,
  },
  {
    id: 'media.keyframe-1mb',
    group: 'media',
    needs: 'relay',
    title: 'a 1 MB keyframe',
    definition: 'a 1 000 000-byte keyframe reaches the viewer byte for byte',
    limitMs: 20_000,
    run: media.bigKeyframe(1_000_000),
  },
  {
    id: 'media.keyframe-4mb',
    group: 'media',
    needs: 'relay',
    title: 'a 4 MB keyframe',
    definition: 'a 4 000 000-byte keyframe reaches the viewer byte for byte',
    limitMs: 20_000,
    run: media.bigKeyframe(4_000_000),
  },
  {
    id: 'media.keyframe-8mb',
    group: 'media',
    needs: 'relay',
    title: 'an 8 MB keyframe',
    definition: 'an 8 000 000-byte keyframe reaches the viewer byte for byte',
    limitMs: 20_000,
    run: media.bigKeyframe(8_000_000),
  },
  {
    id: 'media.audio-only',
    group: 'media',
    needs: 'relay',
    title: 'audio-only stream',
    definition: 'a stream of AAC and no video reaches the viewer byte for byte',
    run: media.audioOnly,
  },
  {
    id: 'media.video-only',
    group: 'media',
    needs: 'relay',
    title: 'video-only stream',
    definition: 'a stream of AVC and no audio reaches the viewer byte for byte',
    run: media.videoOnly,
  },

  // Sessions
  {
    id: 'sessions.play-before-publish',
    group: 'sessions',
    needs: 'relay',
    title: 'play before publish',
    definition:
      'a viewer of a name not yet published waits (Play.Start) and gets the media of the publisher that comes after',
    run: sessions.playBeforePublish,
  },
  {
    id: 'sessions.second-publisher',
    group: 'sessions',
    needs: 'relay',
    title: 'a second publisher on the same name',
    definition:
      'a second publisher is either refused (the first keeps the stream) or replaces the ' +
      'first; viewers never get a mix of both',
    run: sessions.secondPublisher,
  },
  {
    id: 'sessions.republish',
    group: 'sessions',
    needs: 'relay',
    title: 'republish after unpublish',
    definition:
      'after the publisher leaves and a new one publishes the name, a viewer that kept playing gets the new media',
    run: sessions.republish,
  },
  {
    id: 'sessions.unpublish-notify',
    group: 'sessions',
    needs: 'relay',
    title: 'viewers told of unpublish',
    definition: 'after FCUnpublish and deleteStream, viewers get NetStream.Play.UnpublishNotify or StreamEOF',
    run: sessions.unpublishNotify,
  },
  {
    id: 'sessions.publisher-drop',
    group: 'sessions',
    needs: 'relay',
    title: 'viewers told when the publisher drops',
    definition:
      "when the publisher's connection drops without unpublishing, viewers get UnpublishNotify " +
      'or StreamEOF (or are disconnected)',
    run: sessions.publisherDrop,
  },
  {
    id: 'sessions.name-with-query',
    group: 'sessions',
    needs: 'relay',
    title: 'stream key with a query string',
    definition: 'media published as "name?token=..." reaches viewers of "name"',
    run: sessions.nameWithQuery,
  },

  // Resilience (opt-in: attacks, never part of the default run; bounds in attack/settings.ts)
  {
    id: 'resilience.partial-message',
    group: 'resilience',
    needs: 'relay',
    attack: true,
    isolated: true,
    title: 'the partial-message memory bomb',
    definition:
      'connections that complete the handshake, send Set Chunk Size 0x7FFFFFFF and a chunk header declaring an 8 MB video message, then all of it but the last byte, and never connect: the server stays within the RSS bound and a healthy viewer beside them gets every frame',
    run: resilience.partialMessage,
  },
  {
    id: 'resilience.declared-chunk-streams',
    group: 'resilience',
    needs: 'relay',
    attack: true,
    isolated: true,
    title: 'every chunk stream declared at the largest size',
    definition:
      'connections that open every chunk stream id (3..65599) with a header declaring 16 MB, and send nothing more: the server stays within the RSS bound and a healthy viewer beside them gets every frame',
    run: resilience.declaredChunkStreams,
  },
  {
    id: 'resilience.slow-handshake',
    group: 'resilience',
    needs: 'relay',
    attack: true,
    isolated: true,
    title: 'slowloris: handshakes that never finish',
    definition:
      'connections that send C0 and 100 bytes of C1, then a byte a second: the server stays within the RSS bound and a healthy viewer beside them gets every frame',
    run: resilience.slowHandshake,
  },
  {
    id: 'resilience.slow-tls-handshake',
    group: 'resilience',
    needs: 'relay',
    attack: true,
    isolated: true,
    title: 'slowloris on RTMPS: TLS handshakes that never finish',
    definition:
      'connections to the RTMPS endpoint that send the start of a ClientHello, then a byte a second: the server stays within the RSS bound and a healthy viewer beside them gets every frame',
    run: resilience.slowTlsHandshake,
  },
  {
    id: 'resilience.connection-flood',
    group: 'resilience',
    needs: 'relay',
    attack: true,
    isolated: true,
    title: 'a flood of connections',
    definition:
      'connections opened as fast as the server takes them, each through handshake and connect, all held: the server stays within the RSS bound and a healthy viewer beside them gets every frame',
    run: resilience.connectionFlood,
  },
  {
    id: 'resilience.tls-flood',
    group: 'resilience',
    needs: 'relay',
    attack: true,
    isolated: true,
    title: 'a flood of TLS handshakes',
    definition:
      'full TLS handshakes on the RTMPS endpoint as fast as they complete, each connection closed at once: the server stays within the RSS bound and a healthy viewer beside them gets every frame',
    run: resilience.tlsFlood,
  },
  {
    id: 'resilience.chunk-size-1',
    group: 'resilience',
    needs: 'relay',
    attack: true,
    isolated: true,
    title: 'Set Chunk Size 1',
    definition:
      'a publisher that sets chunk size 1 and sends video as fast as the server reads it: every byte a chunk: the server stays within the RSS bound and a healthy viewer beside them gets every frame',
    run: resilience.chunkSizeOne,
  },
  {
    id: 'resilience.tiny-ack-window',
    group: 'resilience',
    needs: 'relay',
    attack: true,
    isolated: true,
    title: 'a tiny acknowledgement window',
    definition:
      'a publisher that sets Window Acknowledgement Size 1 (an Acknowledgement owed for every byte) and sends video as fast as the server reads it: the server stays within the RSS bound and a healthy viewer beside them gets every frame',
    run: resilience.tinyAckWindow,
  },
  {
    id: 'resilience.metadata-flood',
    group: 'resilience',
    needs: 'relay',
    attack: true,
    isolated: true,
    title: 'metadata in a tight loop',
    definition:
      'a publisher sending @setDataFrame onMetaData as fast as the server reads it: the server stays within the RSS bound and a healthy viewer beside them gets every frame',
    run: resilience.metadataFlood,
  },
  {
    id: 'resilience.command-flood',
    group: 'resilience',
    needs: 'relay',
    attack: true,
    isolated: true,
    title: 'commands in a tight loop',
    definition:
      'a connection sending createStream as fast as the server reads it, never waiting for an answer: the server stays within the RSS bound and a healthy viewer beside them gets every frame',
    run: resilience.commandFlood,
  },
  {
    id: 'resilience.player-never-reads',
    group: 'resilience',
    needs: 'relay',
    attack: true,
    isolated: true,
    title: 'players that never read',
    definition:
      'players of a 2.5 MB/s stream that stop reading once it starts: the server stays within the RSS bound and a healthy viewer beside them gets every frame',
    run: resilience.playersNeverRead,
  },
  {
    id: 'resilience.garbage-after-connect',
    group: 'resilience',
    needs: 'relay',
    attack: true,
    isolated: true,
    title: 'garbage after connect',
    definition:
      'connections that send 64 KB of random bytes right after connect: the server stays within the RSS bound and a healthy viewer beside them gets every frame',
    run: resilience.garbageAfterConnect,
  },
  {
    id: 'resilience.http-slow-headers',
    group: 'resilience',
    needs: 'relay',
    attack: true,
    isolated: true,
    title: 'slowloris on the HTTP outputs',
    definition:
      'HTTP-FLV and HLS requests whose headers never end (a byte a second): the server stays within the RSS bound and a healthy viewer beside them gets every frame',
    run: resilienceHttp.httpSlowHeaders,
  },
  {
    id: 'resilience.http-held',
    group: 'resilience',
    needs: 'relay',
    attack: true,
    isolated: true,
    title: 'held requests on the HTTP outputs',
    definition:
      'complete HTTP-FLV stream and HLS playlist requests whose answers are never read: the server stays within the RSS bound and a healthy viewer beside them gets every frame',
    run: resilienceHttp.httpHeldRequests,
  },
];

const optIn = (p: ProbeDefinition) => (OPT_IN_GROUPS as readonly string[]).includes(p.group);

/** The probes a run without `only` makes: every probe but those of the opt-in groups (attacks). */
export const DEFAULT_PROBES: readonly ProbeDefinition[] = PROBES.filter((p) => !optIn(p));

/**
 * The probes `only` selects: ids, groups ("chunking") or id prefixes ending in "*"; the default
 * probes when empty. A prefix selects probes of an opt-in group only when it names that group
 * ("resilience.*"; "*" alone does not). Lists the names that select nothing.
 */
export function selectProbes(only: readonly string[] = []): { probes: ProbeDefinition[]; unknown: string[] } {
  if (only.length === 0) return { probes: [...DEFAULT_PROBES], unknown: [] };
  const unknown: string[] = [];
  const chosen = new Set<string>();
  for (const raw of only) {
    const name = raw.trim();
    const matches = PROBES.filter(
      (p) =>
        p.id === name ||
        p.group === name ||
        (name.endsWith('*') &&
          p.id.startsWith(name.slice(0, -1)) &&
          (!optIn(p) || name.slice(0, -1).startsWith(p.group))),
    );
    if (matches.length === 0) unknown.push(name);
    for (const m of matches) chosen.add(m.id);
  }
  return { probes: PROBES.filter((p) => chosen.has(p.id)), unknown };
}
