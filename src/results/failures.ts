import { PROTOCOL_KEY_LIST, VIEWER_PROTOCOLS, type ProtocolKey, type ViewerProtocol } from '../protocol/delivery.js';
import {
  CLIENT_FAILURE_LIST,
  CLIENT_STEPS,
  isClientStep,
  type ClientFailure,
  type ClientStep,
} from '../protocol/errors.js';

/**
 * Why sessions failed, as records, and the one place that writes them as the keys of a results
 * folder (`failures` in summary.json and counters.json, schema version 1) and reads them back:
 *   publisher: timeout in handshake      player: no-video          hls viewer: rejected
 *   publisher dropped: closed            player dropped: socket    ws-flv viewer dropped: closed
 * Every kind is from a closed set, so the keys (and the Prometheus labels made of them) are too:
 * an error rtmpbench did not expect counts as `other` (its message is not a key).
 */

/** A viewer that connected but got no video (or, when the publishers send audio, no audio) within the bound. */
export const MEDIA_FAILURES = ['no-video', 'no-audio'] as const;
export type MediaFailure = (typeof MEDIA_FAILURES)[number];

/** An error that is none of the client's failure kinds (a bug, an unexpected exception). */
export const OTHER_FAILURE = 'other';

/** Who failed: a publisher (always RTMP), or a player with the protocol it views with. */
export type FailedSession = { role: 'publisher' } | { role: 'player'; protocol: ViewerProtocol };

/**
 * One failure. `setup`: the session never became a working publisher or viewer (it could not
 * connect, was refused, or, for viewers, got no media within the bound); `dropped`: the target
 * ended a working session before the run did. `step` names which of the generator's waits ran
 * out, for the failures that can happen at several steps (a timeout).
 */
export type Failure = FailedSession &
  (
    | { phase: 'setup'; kind: ClientFailure; step?: ClientStep }
    | { phase: 'setup'; kind: MediaFailure | typeof OTHER_FAILURE }
    | { phase: 'dropped'; kind: ClientFailure }
  );

export type FailureKind = Failure['kind'];

/** How a session is named in a key: `publisher`, `player` (RTMP), `hls viewer`... */
function subject(s: FailedSession): string {
  if (s.role === 'publisher') return 'publisher';
  return s.protocol === 'rtmp' ? 'player' : `${s.protocol} viewer`;
}

/** What a failure is, without who failed: `timeout in handshake`, `no-video`, `closed`. */
export function failureReason(f: Failure): string {
  return 'step' in f && f.step !== undefined ? `${f.kind} in ${f.step}` : f.kind;
}

/** The key a failure is counted under in a results folder (and labelled with in Prometheus). */
export function failureKey(f: Failure): string {
  return `${subject(f)}${f.phase === 'dropped' ? ' dropped' : ''}: ${failureReason(f)}`;
}

const KEY = /^(publisher|player|([a-z-]+) viewer)( dropped)?: (.*)$/s;
const isClientFailure = (s: string): s is ClientFailure => (CLIENT_FAILURE_LIST as string[]).includes(s);
const isMediaFailure = (s: string): s is MediaFailure => (MEDIA_FAILURES as readonly string[]).includes(s);

/**
 * A key read back as the failure it counts; null for a key that names no session. Keys written
 * before failures were records may end in an error's message: those read as `other`.
 */
export function parseFailureKey(key: string): Failure | null {
  const m = KEY.exec(key);
  if (m === null) return null;
  const viewer = m[2];
  let session: FailedSession;
  if (m[1] === 'publisher') session = { role: 'publisher' };
  else if (m[1] === 'player') session = { role: 'player', protocol: 'rtmp' };
  else if (viewer !== undefined && viewer !== 'rtmp' && (VIEWER_PROTOCOLS as readonly string[]).includes(viewer))
    session = { role: 'player', protocol: viewer as ViewerProtocol };
  else return null;
  const reason = m[4]!;
  if (m[3] !== undefined) return isClientFailure(reason) ? { ...session, phase: 'dropped', kind: reason } : null;
  if (session.role === 'player' && isMediaFailure(reason)) return { ...session, phase: 'setup', kind: reason };
  const at = reason.indexOf(' in ');
  const kind = at < 0 ? reason : reason.slice(0, at);
  const step = at < 0 ? undefined : reason.slice(at + 4);
  if (!isClientFailure(kind) || (step !== undefined && !isClientStep(step)))
    return { ...session, phase: 'setup', kind: OTHER_FAILURE };
  return step === undefined ? { ...session, phase: 'setup', kind } : { ...session, phase: 'setup', kind, step };
}

/** Every failure there can be: the closed set keys and labels come from. */
export function allFailures(): Failure[] {
  const sessions: FailedSession[] = [
    { role: 'publisher' },
    ...VIEWER_PROTOCOLS.map((protocol): FailedSession => ({ role: 'player', protocol })),
  ];
  const out: Failure[] = [];
  for (const s of sessions) {
    for (const kind of [...CLIENT_FAILURE_LIST, OTHER_FAILURE] as const) {
      out.push({ ...s, phase: 'setup', kind });
      if (kind !== OTHER_FAILURE) for (const step of CLIENT_STEPS) out.push({ ...s, phase: 'setup', kind, step });
    }
    if (s.role === 'player') for (const kind of MEDIA_FAILURES) out.push({ ...s, phase: 'setup', kind });
    for (const kind of CLIENT_FAILURE_LIST) out.push({ ...s, phase: 'dropped', kind });
  }
  return out;
}

/** Where counts go whose key names no session at all (none that rtmpbench wrote). */
const UNREADABLE_FAILURE_KEY = 'other';

/** Every key failures can be counted under: a closed set (Prometheus label values are taken from it). */
export function allFailureKeys(): string[] {
  return [...allFailures().map(failureKey), UNREADABLE_FAILURE_KEY];
}

/**
 * Failure counts under keys of the closed set: any key that is not a failure's own (an error's
 * message, from before failures were records) counts under the key it reads back as.
 */
export function closedFailureCounts(counts: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, n] of Object.entries(counts)) {
    const f = parseFailureKey(key);
    const k = f === null ? UNREADABLE_FAILURE_KEY : failureKey(f);
    out[k] = (out[k] ?? 0) + n;
  }
  return out;
}

/** One HTTP error answer a viewer got: its protocol and status (0: no answer at all). */
export interface HttpError {
  protocol: ProtocolKey;
  status: number;
}

/** The key of HTTP errors in counters.json's `httpErrors`: "protocol status" (`hls 404`, `httpFlv 503`). */
export function httpErrorKey(e: HttpError): string {
  return `${e.protocol} ${e.status}`;
}

export function parseHttpErrorKey(key: string): HttpError | null {
  const m = /^(\S+) (\d+)$/.exec(key);
  if (m === null || !(PROTOCOL_KEY_LIST as string[]).includes(m[1]!)) return null;
  return { protocol: m[1] as ProtocolKey, status: Number(m[2]) };
}
