/**
 * The collector of the browser SDK's unit tests: the shared recording collector (./recorder.ts), which
 * checks every payload against the wire contract, seen per application id.
 */
import { applicationIdOf, startRecorder, type Recorded } from './recorder';
import { itemsOf } from './contract';

export type Received = Recorded;

export interface Collector {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  requests: Received[];
  /** Items (array elements) received for one application id on one path, in arrival order. */
  items(applicationId: string, path: string): Record<string, unknown>[];
  /** Requests received for one application id. */
  from(applicationId: string): Received[];
  /** Rejects when a payload broke the wire contract. */
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1, port 0, that answers 200 to everything. */
export async function startCollector(): Promise<Collector> {
  const recorder = await startRecorder();
  const from = (applicationId: string) => recorder.requests.filter((r) => applicationIdOf(r) === applicationId);
  return {
    url: recorder.url,
    port: recorder.port,
    requests: recorder.requests,
    from,
    items: (applicationId, path) =>
      from(applicationId)
        .filter((r) => r.path === path)
        .flatMap((r) => itemsOf(r.body) as unknown as Record<string, unknown>[]),
    close: () => recorder.close(),
  };
}
