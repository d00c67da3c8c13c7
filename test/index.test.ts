import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../src/version.js';
import * as api from '../src/index.js';
import { run } from './helpers/tools.js';

/**
 * The names (values: classes, functions, constants) the package exports: its public API.
 * Adding or removing one is a deliberate change to this list, not a side effect of an export
 * inside some module.
 */
const PUBLIC_VALUES = [
  'AMF_CLASS_NAME',
  'AMF_ECMA_ARRAY',
  'ATTACK_FIGURES',
  'ATTACK_RESPONSES',
  'ATTACK_STOPS',
  'Amf0Reader',
  'AmfXml',
  'ArgumentError',
  'AudioFourCc',
  'AudioPacketType',
  'AvMultitrackType',
  'AvcPacketType',
  'BACKPRESSURE_POLICIES',
  'BANDWIDTH_LIMIT_DYNAMIC',
  'BANDWIDTH_LIMIT_HARD',
  'BANDWIDTH_LIMIT_SOFT',
  'BufferPool',
  'CLIENT_FAILURES',
  'COMPARISON_FILE',
  'COUNTERS',
  'COUNTER_NAMES',
  'CSID_AUDIO',
  'CSID_COMMAND',
  'CSID_DATA',
  'CSID_PROTOCOL',
  'CSID_VIDEO',
  'ChunkReader',
  'ChunkWriter',
  'ClientConnection',
  'ClientError',
  'ClientHandshake',
  'DEFAULT_ATTACK',
  'DEFAULT_CHUNK_SIZE',
  'DEFAULT_MAX_CHUNK_STREAMS',
  'DEFAULT_MAX_MESSAGE_BYTES',
  'DEFAULT_PROBES',
  'Dashboard',
  'ERROR_CODES',
  'FlvFileSource',
  'HANDSHAKE_SIZE',
  'HEAP_ALLOCATOR',
  'LimitError',
  'LiveRun',
  'MARK_UUID',
  'MAX_WRITE_CHUNK_SIZE',
  'MIN_WRITE_CHUNK_SIZE',
  'MSG_ABORT',
  'MSG_ACKNOWLEDGEMENT',
  'MSG_AGGREGATE',
  'MSG_AUDIO',
  'MSG_COMMAND_AMF0',
  'MSG_COMMAND_AMF3',
  'MSG_DATA_AMF0',
  'MSG_DATA_AMF3',
  'MSG_SET_CHUNK_SIZE',
  'MSG_SET_PEER_BANDWIDTH',
  'MSG_SHARED_OBJECT_AMF0',
  'MSG_SHARED_OBJECT_AMF3',
  'MSG_USER_CONTROL',
  'MSG_VIDEO',
  'MSG_WINDOW_ACK_SIZE',
  'MetricsEndpoint',
  'OPT_IN_GROUPS',
  'PROBES',
  'PROBE_GROUPS',
  'PROBE_RESULTS',
  'PROFILE_TOOLS',
  'Player',
  'ProtocolError',
  'Publisher',
  'RTMP_VERSION',
  'RingQueue',
  'RtmpError',
  'RtmpServer',
  'RunError',
  'SCENARIO_FLAGS',
  'SERVER_KINDS',
  'SHIPPED_SCENARIOS',
  'STREAM_ID_CONTROL',
  'SUMMARY_SCHEMA_VERSION',
  'ServerHandshake',
  'SoundFormat',
  'SyntheticSource',
  'TIMELINE_STREAM_FILE',
  'TimelineStream',
  'UC_PING_REQUEST',
  'UC_PING_RESPONSE',
  'UC_SET_BUFFER_LENGTH',
  'UC_STREAM_BEGIN',
  'UC_STREAM_DRY',
  'UC_STREAM_EOF',
  'UC_STREAM_IS_RECORDED',
  'UsageError',
  'VideoCodecId',
  'VideoFourCc',
  'VideoFrameType',
  'VideoPacketType',
  'abortMessage',
  'acknowledgementMessage',
  'addCounters',
  'betterDirection',
  'buildSummary',
  'checkComparison',
  'classifyAudio',
  'classifyVideo',
  'closeStreamCommand',
  'commandMessage',
  'comparisonHtml',
  'comparisonJunit',
  'comparisonMarkdown',
  'computeComparison',
  'connectCommand',
  'connectResultCommand',
  'cpuHotSpots',
  'createStreamCommand',
  'createStreamResultCommand',
  'dataMessage',
  'decodeAmf0',
  'decodeAmf3Value',
  'decodeMessage',
  'deleteStreamCommand',
  'diffCounters',
  'ecmaArray',
  'encodeAmf0',
  'encodeMessage',
  'encodeMessageContiguous',
  'errorCommand',
  'evaluateGates',
  'evaluateThresholds',
  'expandVariants',
  'failedGates',
  'failedThresholds',
  'failureKey',
  'fcPublishCommand',
  'fcUnpublishCommand',
  'flattenEncoded',
  'formatComparison',
  'formatProbeConsole',
  'formatProgress',
  'formatSummary',
  'fourCcToString',
  'frameAccounting',
  'generatorSaturation',
  'getStreamLengthCommand',
  'httpErrorKey',
  'isAmfObject',
  'isComparisonDir',
  'isEcmaArray',
  'isRtmpError',
  'judgeRule',
  'listTracks',
  'loadComparison',
  'loadRun',
  'loadSavedBaseline',
  'makeSource',
  'mergeRuns',
  'monotonicUs',
  'newAudioTagInfo',
  'newCounters',
  'newResultsDir',
  'newVideoTagInfo',
  'onFcPublishCommand',
  'onFcUnpublishCommand',
  'onMetaDataMessage',
  'onStatusCommand',
  'parseAudioTag',
  'parseBitrate',
  'parseCommand',
  'parseData',
  'parseDurationMs',
  'parseFailureKey',
  'parseGateRule',
  'parseGateRules',
  'parseHttpErrorKey',
  'parseRtmpUrl',
  'parseSize',
  'parseThreshold',
  'parseThresholds',
  'parseVideoTag',
  'pingRequestMessage',
  'pingResponseMessage',
  'playCommand',
  'probeMarkdown',
  'probeServer',
  'probeTarget',
  'probeTargets',
  'profileServer',
  'publishCommand',
  'readMark',
  'readScenarioFile',
  'readServerConfigFile',
  'releaseStreamCommand',
  'resolveScenario',
  'resolveScenarioPath',
  'resolveServerConfig',
  'resultCommand',
  'runComparison',
  'runFailure',
  'runHtml',
  'runJunit',
  'runMarkdown',
  'runScenario',
  'sampleAccessMessage',
  'scenarioFromInput',
  'scenarioSchema',
  'schedule',
  'selectProbes',
  'serverAvailability',
  'serverConfigSchema',
  'setBufferLengthMessage',
  'setChunkSizeMessage',
  'setDataFrameMessage',
  'setPeerBandwidthMessage',
  'splitAggregate',
  'startCommand',
  'startServer',
  'statusInfo',
  'streamBeginMessage',
  'streamDryMessage',
  'streamEofMessage',
  'streamIsRecordedMessage',
  'sumCounters',
  'targetFromArgument',
  'targetsFromScenario',
  'windowAckSizeMessage',
  'writeMark',
  'writeReports',
  'writeRunFolder',
];

/**
 * The package as its users import it: by name, through package.json's exports (the built
 * files), in a process of its own.
 */
const script = `
import * as api from 'rtmpbench';
import { RtmpServer, resolveServerConfig, resolveScenario, runScenario, loadRun, formatSummary } from 'rtmpbench';
const server = new RtmpServer(resolveServerConfig({ port: 0, logLevel: 'error' }));
const { port } = await server.listen();
const { scenario, problems } = resolveScenario({ name: 'api', target: 'rtmp://127.0.0.1:' + port + '/live', players: { perStream: 3 }, duration: '2s', workers: 1 });
if (scenario === null) throw new Error(problems.join('; '));
const out = await runScenario({ scenario, outDir: process.argv[1] });
const loaded = loadRun(out.resultsDir);
await server.close(100);
console.log(JSON.stringify({ exports: Object.keys(api).sort(), players: out.summary.sessions.players, frames: loaded.summary.throughput.framesReceived, text: formatSummary(out.summary, out.resultsDir).split('\\n')[0] }));
`;

describe('the package', () => {
  it('exports exactly the names of its public API', () => {
    expect(Object.keys(api).sort()).toEqual(PUBLIC_VALUES);
  });

  it('is imported by its name and runs a scenario against a server it started itself', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const out = mkdtempSync(join(tmpdir(), 'rtmpbench-api-'));
    try {
      const r = await run(
        process.execPath,
        ['--input-type=module', '-e', script, out],
        60_000,
        undefined,
        PACKAGE_ROOT,
      );
      expect(r.code, r.stderr).toBe(0);
      const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
        exports: string[];
        players: { connected: number };
        frames: number;
        text: string;
      };
      expect(res.exports).toEqual(PUBLIC_VALUES);
      expect(res.players.connected).toBe(3);
      expect(res.frames).toBeGreaterThan(0);
      expect(res.text).toContain('rtmpbench run "api"');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);
});
