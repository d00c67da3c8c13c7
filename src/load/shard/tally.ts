import type { ProtocolKey } from '../../protocol/delivery.js';
import { addCounters, diffCounters, newCounters, type CounterName, type Counters } from '../../results/counters.js';
import type { PlayerProbe } from './player-probe.js';
import type { PublisherProbe } from './publisher-probe.js';

/** Counts by name (failures by reason, HTTP errors by status) with what changed since the last take. */
export class NamedCounts {
  readonly total: Record<string, number> = {};
  private delta: Record<string, number> = {};

  add(name: string, n = 1): void {
    this.total[name] = (this.total[name] ?? 0) + n;
    this.delta[name] = (this.delta[name] ?? 0) + n;
  }

  take(): Record<string, number> {
    const d = this.delta;
    this.delta = {};
    return d;
  }
}

interface Book {
  /** Counted as things happen (sessions planned, connected, failed; stops). */
  events: Counters;
  /** Counts of viewers that have ended. */
  ended: Counters;
  last: Counters;
}

/**
 * A worker's counters, for the run and for each viewer protocol: what happened (events),
 * what the viewers that ended had counted, and what the sessions alive count now. Each tick
 * takes the difference since the last one.
 */
export class Tally {
  private readonly all: Book = book();
  private readonly protocols = new Map<ProtocolKey, Book>();

  /** Counts an event for the run, and for a viewer protocol when given. */
  count(name: CounterName, protocol?: ProtocolKey, n = 1): void {
    this.all.events[name] += n;
    if (protocol !== undefined) this.of(protocol).events[name] += n;
  }

  /** A viewer ended: its counts join the totals; it can be let go. */
  ended(probe: PlayerProbe, leftUs: number): void {
    probe.addCounts(this.all.ended, leftUs);
    probe.addCounts(this.of(probe.protocolKey).ended, leftUs);
  }

  /** A publication ended: its counts join the totals. */
  publisherEnded(probe: PublisherProbe): void {
    probe.addCounts(this.all.ended);
  }

  /** Everything counted so far, with the sessions alive now. */
  totals(
    publishers: readonly PublisherProbe[],
    players: Iterable<PlayerProbe>,
    nowUs: number,
  ): { all: Counters; byProtocol: Map<ProtocolKey, Counters> } {
    const all = addCounters(addCounters(newCounters(), this.all.events), this.all.ended);
    const byProtocol = new Map<ProtocolKey, Counters>();
    for (const [k, b] of this.protocols) byProtocol.set(k, addCounters(addCounters(newCounters(), b.events), b.ended));
    for (const p of publishers) p.addCounts(all);
    for (const p of players) {
      p.addCounts(all, nowUs);
      let c = byProtocol.get(p.protocolKey);
      if (c === undefined) {
        c = newCounters();
        byProtocol.set(p.protocolKey, c);
      }
      p.addCounts(c, nowUs);
    }
    return { all, byProtocol };
  }

  /** What was counted since the last call (the run's and each protocol's). */
  takeDelta(
    publishers: readonly PublisherProbe[],
    players: Iterable<PlayerProbe>,
    nowUs: number,
  ): { all: Counters; byProtocol: Partial<Record<ProtocolKey, Counters>> } {
    const t = this.totals(publishers, players, nowUs);
    const all = diffCounters(t.all, this.all.last);
    this.all.last = t.all;
    const byProtocol: Partial<Record<ProtocolKey, Counters>> = {};
    for (const [k, c] of t.byProtocol) {
      const b = this.of(k);
      byProtocol[k] = diffCounters(c, b.last);
      b.last = c;
    }
    return { all, byProtocol };
  }

  /** The totals as of the last take. */
  lastTotals(): { all: Counters; byProtocol: Partial<Record<ProtocolKey, Counters>> } {
    const byProtocol: Partial<Record<ProtocolKey, Counters>> = {};
    for (const [k, b] of this.protocols) byProtocol[k] = b.last;
    return { all: this.all.last, byProtocol };
  }

  private of(k: ProtocolKey): Book {
    let b = this.protocols.get(k);
    if (b === undefined) {
      b = book();
      this.protocols.set(k, b);
    }
    return b;
  }
}

function book(): Book {
  return { events: newCounters(), ended: newCounters(), last: newCounters() };
}
