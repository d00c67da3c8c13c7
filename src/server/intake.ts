import type { MessageAdmission } from '../protocol/chunk-reader.js';
import {
  MSG_AGGREGATE,
  MSG_AUDIO,
  MSG_COMMAND_AMF0,
  MSG_COMMAND_AMF3,
  MSG_SET_PEER_BANDWIDTH,
  MSG_VIDEO,
} from '../protocol/constants.js';
import { closeReason, type CloseReason } from './close-reason.js';
import type { ServerConfig } from './config.js';

/**
 * What a peer may make the server hold of what it sends, by the stage it has reached and in
 * total. A reassembled message is allocated at its declared length when its first chunk arrives
 * (chunk-reader.ts), so what counts is what a peer declares, not what it has sent: one header
 * declaring 8 MB, followed by nothing, commits 8 MB.
 *
 * - Before `connect`: commands and protocol control messages only (a real `connect` is a few
 *   hundred bytes, a few KB with Enhanced RTMP's lists and a token in the URL), each at most
 *   `maxCommandBytes`, and at most that much held in unfinished messages.
 * - After `connect`, before `publish`: the same, and data messages; no audio, video or aggregates.
 * - Once it has published: messages up to `maxMessageBytes` (the reader's own limit), at most
 *   `maxPartialBytes` held in unfinished messages.
 * - All connections together hold at most `maxServerPartialBytes` in unfinished messages.
 *
 * A peer over any of these is closed with its own reason; the server-wide bound closes the peer
 * whose message would pass it.
 */

/** Bytes held in unfinished messages by every connection of the server. */
export class ReassemblyBudget {
  heldBytes = 0;
  /** Most held at once since the start. */
  peakBytes = 0;
  /** Peers closed for the server-wide bound. */
  refusals = 0;
  readonly maxBytes: number;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  take(bytes: number): boolean {
    const next = this.heldBytes + bytes;
    if (next > this.maxBytes) {
      this.refusals++;
      return false;
    }
    this.heldBytes = next;
    if (next > this.peakBytes) this.peakBytes = next;
    return true;
  }

  give(bytes: number): void {
    this.heldBytes -= bytes;
  }
}

export type IntakeStage = 'connecting' | 'connected' | 'published';

/** Message types a peer may send before `connect`: commands, and protocol and user control (1..6). */
function isCommandOrControl(typeId: number): boolean {
  return (
    typeId === MSG_COMMAND_AMF0 || typeId === MSG_COMMAND_AMF3 || (typeId >= 1 && typeId <= MSG_SET_PEER_BANDWIDTH)
  );
}

function isMedia(typeId: number): boolean {
  return typeId === MSG_VIDEO || typeId === MSG_AUDIO || typeId === MSG_AGGREGATE;
}

/** One connection's side of the bounds above: the chunk reader asks it about every message. */
export class IntakeGate implements MessageAdmission {
  stage: IntakeStage = 'connecting';
  /** Bytes this connection holds in unfinished messages (declared lengths). */
  heldBytes = 0;
  private readonly config: Pick<ServerConfig, 'maxCommandBytes' | 'maxPartialBytes'>;
  private readonly budget: ReassemblyBudget;
  private readonly onRefused: (reason: CloseReason) => void;

  constructor(
    config: Pick<ServerConfig, 'maxCommandBytes' | 'maxPartialBytes'>,
    budget: ReassemblyBudget,
    onRefused: (reason: CloseReason) => void,
  ) {
    this.config = config;
    this.budget = budget;
    this.onRefused = onRefused;
  }

  admit(typeId: number, length: number): boolean {
    const stage = this.stage;
    if (stage === 'published') return true;
    if (stage === 'connecting' && !isCommandOrControl(typeId))
      return this.refuse(closeReason('message-before-connect', `message type ${typeId} of ${length} bytes`));
    if (isMedia(typeId))
      return this.refuse(closeReason('media-before-publish', `message type ${typeId} of ${length} bytes`));
    if (length > this.config.maxCommandBytes)
      return this.refuse(
        closeReason(
          'command-too-large',
          `message type ${typeId} of ${length} bytes before publish; the limit is ${this.config.maxCommandBytes}`,
        ),
      );
    return true;
  }

  hold(bytes: number): boolean {
    const bound = this.stage === 'published' ? this.config.maxPartialBytes : this.config.maxCommandBytes;
    if (this.heldBytes + bytes > bound)
      return this.refuse(
        closeReason(
          'partial-bytes-limit',
          `${this.heldBytes + bytes} bytes of unfinished messages; the limit is ${bound} (${this.stage})`,
        ),
      );
    if (!this.budget.take(bytes))
      return this.refuse(
        closeReason(
          'server-partial-bytes-limit',
          `${bytes} more bytes of unfinished messages over the server's ${this.budget.maxBytes}`,
        ),
      );
    this.heldBytes += bytes;
    return true;
  }

  unhold(bytes: number): void {
    this.heldBytes -= bytes;
    this.budget.give(bytes);
  }

  private refuse(reason: CloseReason): false {
    this.onRefused(reason);
    return false;
  }
}
