import type { Log } from '../log.js';

/** What `getStats()` reports: counts since the page loaded, and what waits now. */
export interface DeliveryStats {
  queued: number;
  sent: number;
  retried: number;
  dropped: number;
  /** Items picked up from a closed tab; some may have arrived already and reach the collector twice. */
  adopted: number;
  bytesSent: number;
  requests: number;
  inOutbox: number;
}

export type Counts = Omit<DeliveryStats, 'inOutbox'>;

/** The engine's counts, and `drop()`, which counts items lost and says why on the console (once per reason). */
export function createCounts(log: Log) {
  const counts: Counts = { queued: 0, sent: 0, retried: 0, dropped: 0, adopted: 0, bytesSent: 0, requests: 0 };
  const drop = (count: number, reason: string): void => {
    counts.dropped += count;
    log.warn(`dropped items: ${reason}`);
  };
  return { counts, drop };
}
