/**
 * rtmpbench as a library: run load scenarios, start the built-in server, drive publishers and
 * players of your own, compare and merge runs, read results folders and render reports. The
 * `rtmpbench` command is a thin shell over these same functions.
 *
 *   import { resolveScenario, runScenario } from 'rtmpbench';
 *   const { scenario } = resolveScenario({ players: { perStream: 100 }, duration: '30s' });
 *   const { summary, resultsDir } = await runScenario({ scenario: scenario! });
 */

// Scenarios and runs.
export { resolveScenario, scenarioSchema, type ScenarioInput, type ScenarioIssue } from './load/scenario.js';
export { scenarioFromInput, SCENARIO_FLAGS, type FlagValues } from './load/scenario-input.js';
export { readScenarioFile, resolveScenarioPath, SHIPPED_SCENARIOS } from './load/scenario-file.js';
export { runScenario, type RunOptions, type RunOutcome } from './load/orchestrator.js';
export { runFailure } from './load/run-failure.js';
export { RunError } from './load/errors.js';

// Experiments on runs.
export {
  checkComparison,
  expandVariants,
  runComparison,
  schedule,
  type CompareOptions,
  type CompareOutcome,
} from './lab/compare.js';
export { mergeRuns, type MergeOutcome } from './lab/merge.js';
export {
  cpuHotSpots,
  profileServer,
  PROFILE_TOOLS,
  type ProfileOptions,
  type ProfileOutcome,
  type ProfileTool,
} from './lab/profile.js';
export { probeServer, type ProbeServerOptions } from './lab/probe/runner.js';
export {
  probeTarget,
  probeTargets,
  targetFromArgument,
  targetsFromScenario,
  type ProbeTargetSpec,
} from './lab/probe/targets.js';
export { DEFAULT_PROBES, PROBES, selectProbes } from './lab/probe/list.js';
export { DEFAULT_ATTACK, type AttackSettings } from './lab/probe/attack/settings.js';
export type { ProbeDefinition, ProbeNeed } from './lab/probe/context.js';
export {
  ATTACK_FIGURES,
  ATTACK_RESPONSES,
  ATTACK_STOPS,
  OPT_IN_GROUPS,
  PROBE_RESULTS,
  PROBE_GROUPS,
  type AttackFigures,
  type AttackResponse,
  type AttackStop,
  type ProbeResult,
  type ProbeGroup,
  type ProbeOutcome,
  type ProbeReport,
  type ProbeComparison,
  type ProbeEvidence,
} from './results/probe.js';
export { formatProbeConsole, probeMarkdown } from './report/probe.js';

// The results contract.
export type { Scenario, Stage, ServerSpec } from './results/scenario.js';
export {
  SUMMARY_SCHEMA_VERSION,
  buildSummary,
  failedThresholds,
  frameAccounting,
  generatorSaturation,
  type RunSummary,
  type ThresholdResult,
} from './results/summary.js';
export type { TimelinePoint } from './results/timeline.js';
export {
  failureKey,
  parseFailureKey,
  httpErrorKey,
  parseHttpErrorKey,
  type Failure,
  type FailureKind,
  type HttpError,
} from './results/failures.js';
export type { Progress } from './results/progress.js';
export type { LiveSecond, RunObserver, RunStart } from './results/live.js';
export { COMPARISON_FILE, type ComparisonFile, type ComparisonRun, type Variant } from './results/comparison-file.js';
export {
  COUNTERS,
  COUNTER_NAMES,
  newCounters,
  addCounters,
  sumCounters,
  diffCounters,
  type Counters,
  type CounterName,
} from './results/counters.js';
export { evaluateThresholds, parseThreshold, parseThresholds, type Threshold } from './results/thresholds.js';
export {
  isComparisonDir,
  loadComparison,
  loadRun,
  newResultsDir,
  writeRunFolder,
  type LoadedComparison,
  type LoadedRun,
  type RunFiles,
} from './results/folder.js';

// Reports (formats only).
export { formatComparison, formatProgress, formatSummary } from './report/console.js';
export { comparisonHtml, comparisonMarkdown, runHtml, runMarkdown, writeReports } from './report/write.js';
export { computeComparison, type ComparisonTable } from './report/comparison.js';
export { comparisonJunit, runJunit } from './report/junit.js';

// Performance gates over comparisons.
export { evaluateGates, judgeRule } from './lab/gate.js';
export { loadSavedBaseline, type SavedBaseline } from './lab/saved-baseline.js';
export {
  betterDirection,
  failedGates,
  parseGateRule,
  parseGateRules,
  type GateResult,
  type GateRule,
} from './results/gates.js';

// Live outputs of a run (pass them to runScenario's observers).
export { LiveRun } from './report/live-run.js';
export { MetricsEndpoint } from './report/metrics-endpoint.js';
export { Dashboard } from './report/dashboard.js';
export { TimelineStream, TIMELINE_STREAM_FILE } from './results/timeline-stream.js';

// The built-in server.
export { RtmpServer } from './server/server.js';
export {
  resolveServerConfig,
  readServerConfigFile,
  serverConfigSchema,
  BACKPRESSURE_POLICIES,
  type ServerConfig,
  type ServerConfigInput,
  type BackpressurePolicy,
} from './server/config.js';

// Clients.
export { Publisher, type PublisherOptions } from './client/publisher.js';
export { Player, type PlayerOptions, type VideoObservation } from './client/player.js';
export { ClientConnection, type ClientOptions, type StatusEvent } from './client/connection.js';
export { ClientError, CLIENT_FAILURES, type ClientFailure, type ClientStep } from './client/errors.js';
export { parseRtmpUrl, type RtmpUrl } from './client/url.js';

// Media sources and timing marks.
export { SyntheticSource } from './media/synthetic.js';
export { FlvFileSource } from './media/flv-source.js';
export { makeSource } from './load/media-source.js';
export type { MediaSource, MediaFrame } from './media/source.js';
export { monotonicUs, readMark, writeMark, MARK_UUID, type TimingMark } from './media/timing-mark.js';

// Servers to compare, started in processes of their own.
export {
  startServer,
  startCommand,
  serverAvailability,
  SERVER_KINDS,
  type RunningServer,
  type ServerKind,
} from './proc/servers.js';

// Input and errors.
export { UsageError } from './input/usage-error.js';
export { parseBitrate, parseDurationMs, parseSize } from './input/units.js';

// The protocol codec and buffers: this list is their public API (the rest of src/protocol/ and
// src/buffers/ is internal; test/index.test.ts lists the names, so a change here is deliberate).

// Chunk stream: reading (views of socket buffers, limits) and writing (encode once, write to many).
export {
  ChunkReader,
  DEFAULT_MAX_CHUNK_STREAMS,
  DEFAULT_MAX_MESSAGE_BYTES,
  type ChunkReaderOptions,
  type ChunkReaderSink,
  type ChunkReaderStats,
} from './protocol/chunk-reader.js';
export {
  ChunkWriter,
  encodeMessage,
  encodeMessageContiguous,
  flattenEncoded,
  type ChunkWriterOptions,
  type EncodedMessage,
} from './protocol/chunk-writer.js';
export { HEAP_ALLOCATOR, type BufferAllocator } from './protocol/allocator.js';
export type { OutgoingMessage, RtmpMessage } from './protocol/message.js';

// Handshake (simple and digest forms).
export {
  ClientHandshake,
  ServerHandshake,
  type ClientHandshakeOptions,
  type DigestScheme,
  type HandshakeOptions,
  type HandshakeStep,
  type RandomSource,
} from './protocol/handshake.js';

// AMF0 and AMF3.
export {
  AMF_CLASS_NAME,
  AMF_ECMA_ARRAY,
  AmfXml,
  ecmaArray,
  isAmfObject,
  isEcmaArray,
  type AmfObject,
  type AmfValue,
} from './protocol/amf-types.js';
export { Amf0Reader, decodeAmf0, encodeAmf0, type AmfDecodeOptions } from './protocol/amf0.js';
export { decodeAmf3Value } from './protocol/amf3.js';

// Messages: decoding, commands and data, control messages.
export { decodeMessage, splitAggregate, type AggregateEntry, type DecodedMessage } from './protocol/decode.js';
export {
  closeStreamCommand,
  commandMessage,
  connectCommand,
  connectResultCommand,
  createStreamCommand,
  createStreamResultCommand,
  dataMessage,
  deleteStreamCommand,
  errorCommand,
  fcPublishCommand,
  fcUnpublishCommand,
  getStreamLengthCommand,
  onFcPublishCommand,
  onFcUnpublishCommand,
  onMetaDataMessage,
  onStatusCommand,
  parseCommand,
  parseData,
  playCommand,
  publishCommand,
  releaseStreamCommand,
  resultCommand,
  sampleAccessMessage,
  setDataFrameMessage,
  statusInfo,
  type Command,
  type ConnectParams,
  type DataMessage,
  type Status,
  type StatusInfo,
} from './protocol/commands.js';
export {
  abortMessage,
  acknowledgementMessage,
  pingRequestMessage,
  pingResponseMessage,
  setBufferLengthMessage,
  setChunkSizeMessage,
  setPeerBandwidthMessage,
  streamBeginMessage,
  streamDryMessage,
  streamEofMessage,
  streamIsRecordedMessage,
  windowAckSizeMessage,
  type UserControlEvent,
} from './protocol/control.js';

// FLV / Enhanced RTMP audio and video tag headers.
export {
  AudioFourCc,
  AudioPacketType,
  AvcPacketType,
  AvMultitrackType,
  classifyAudio,
  classifyVideo,
  fourCcToString,
  listTracks,
  newAudioTagInfo,
  newVideoTagInfo,
  parseAudioTag,
  parseVideoTag,
  SoundFormat,
  VideoCodecId,
  VideoFourCc,
  VideoFrameType,
  VideoPacketType,
  type AudioCodec,
  type AudioTagInfo,
  type MediaTrack,
  type VideoCodec,
  type VideoTagInfo,
} from './protocol/media-tags.js';

// The protocol's numbers.
export {
  BANDWIDTH_LIMIT_DYNAMIC,
  BANDWIDTH_LIMIT_HARD,
  BANDWIDTH_LIMIT_SOFT,
  CSID_AUDIO,
  CSID_COMMAND,
  CSID_DATA,
  CSID_PROTOCOL,
  CSID_VIDEO,
  DEFAULT_CHUNK_SIZE,
  HANDSHAKE_SIZE,
  MAX_WRITE_CHUNK_SIZE,
  MIN_WRITE_CHUNK_SIZE,
  MSG_ABORT,
  MSG_ACKNOWLEDGEMENT,
  MSG_AGGREGATE,
  MSG_AUDIO,
  MSG_COMMAND_AMF0,
  MSG_COMMAND_AMF3,
  MSG_DATA_AMF0,
  MSG_DATA_AMF3,
  MSG_SET_CHUNK_SIZE,
  MSG_SET_PEER_BANDWIDTH,
  MSG_SHARED_OBJECT_AMF0,
  MSG_SHARED_OBJECT_AMF3,
  MSG_USER_CONTROL,
  MSG_VIDEO,
  MSG_WINDOW_ACK_SIZE,
  RTMP_VERSION,
  STREAM_ID_CONTROL,
  UC_PING_REQUEST,
  UC_PING_RESPONSE,
  UC_SET_BUFFER_LENGTH,
  UC_STREAM_BEGIN,
  UC_STREAM_DRY,
  UC_STREAM_EOF,
  UC_STREAM_IS_RECORDED,
} from './protocol/constants.js';

// Errors: one registry of stable codes, classes by who must act.
export {
  ArgumentError,
  ERROR_CODES,
  isRtmpError,
  LimitError,
  ProtocolError,
  RtmpError,
  type ErrorCode,
  type ErrorDetail,
} from './protocol/errors.js';

// Buffers.
export { BufferPool, type BufferPoolOptions, type BufferPoolStats } from './buffers/buffer-pool.js';
export { RingQueue } from './buffers/ring-queue.js';
