/**
 * OpenTelemetry's web tracing as an app sets it up (sdk-trace-web 2.12.0, instrumentation-fetch and
 * instrumentation-xml-http-request 0.223.0), for e2e/otel-web.spec.ts, which bundles this file with
 * esbuild and serves it to the page, where it is the global `otel`. Spans go to an in-memory exporter
 * the test reads, and, when `exportTo` is given, also to an exporter that posts them as OTLP/HTTP's
 * exporter for browsers does (otlp-exporter-base's fetch transport: `fetch(url, { method: 'POST', ... })`
 * called from the exporter's `export()`, or its older XHR transport), which OpenTelemetry's span
 * processors call with tracing suppressed, so that the exporter's requests are not traced themselves.
 */
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { FetchInstrumentation } from '@opentelemetry/instrumentation-fetch';
import { XMLHttpRequestInstrumentation } from '@opentelemetry/instrumentation-xml-http-request';
import { BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { WebTracerProvider } from '@opentelemetry/sdk-trace-web';

/** A span as the test compares it. */
export interface SpanSummary {
  name: string;
  /** SpanStatusCode: 0 unset, 1 ok, 2 error. */
  status: number;
  method: unknown;
  url: unknown;
  statusCode: unknown;
  errorType: unknown;
  /** The event that ended an XMLHttpRequest's span (load, error, abort, timeout). */
  ended?: string;
}

/**
 * An exporter that posts spans as JSON at the time it exports, by the page's fetch (as OTLP/HTTP's fetch
 * transport does) or XMLHttpRequest (as its older XHR transport does).
 */
function postingExporter(url: string, by: 'fetch' | 'xhr'): SpanExporter {
  return {
    export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
      const body = JSON.stringify(spans.map((span) => ({ name: span.name, url: span.attributes['url.full'] })));
      if (by == 'fetch') {
        fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body, keepalive: true }).then(
          () => done({ code: ExportResultCode.SUCCESS }),
          (error: Error) => done({ code: ExportResultCode.FAILED, error }),
        );
        return;
      }
      const xhr = new XMLHttpRequest();
      xhr.open('POST', url);
      xhr.setRequestHeader('Content-Type', 'application/json');
      xhr.onloadend = () => done({ code: xhr.status == 200 ? ExportResultCode.SUCCESS : ExportResultCode.FAILED });
      xhr.send(body);
    },
    shutdown: () => Promise.resolve(),
  };
}

const memory = new InMemorySpanExporter();
/** The URL of each span started so far: a call's span starts when the call does (its XMLHttpRequest's open()). */
const started: unknown[] = [];
const startedSpans: SpanProcessor = {
  onStart: (span) => void started.push(span.attributes['url.full']),
  onEnd: () => {},
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};
let instrumentations: { fetch: FetchInstrumentation; xhr: XMLHttpRequestInstrumentation } | undefined;

const otel = {
  /** Registers the tracer provider and both instrumentations (with `ignoreUrls`), which wrap fetch and XMLHttpRequest now. */
  setUp({ exportTo, exportBy = 'fetch', ignoreUrls }: { exportTo?: string; exportBy?: 'fetch' | 'xhr'; ignoreUrls?: Array<string | RegExp> } = {}): void {
    const spanProcessors = [startedSpans, new SimpleSpanProcessor(memory)];
    if (exportTo) spanProcessors.push(new BatchSpanProcessor(postingExporter(exportTo, exportBy), { scheduledDelayMillis: 100 }));
    new WebTracerProvider({ spanProcessors }).register();
    instrumentations = { fetch: new FetchInstrumentation({ ignoreUrls }), xhr: new XMLHttpRequestInstrumentation({ ignoreUrls }) };
    registerInstrumentations({ instrumentations: Object.values(instrumentations) });
  },
  /** The URL of every span started so far. */
  started: (): unknown[] => [...started],
  /** Every span ended so far. */
  spans: (): SpanSummary[] =>
    memory.getFinishedSpans().map(({ name, status, attributes, events }) => ({
      name,
      status: status.code,
      method: attributes['http.request.method'],
      url: attributes['url.full'],
      statusCode: attributes['http.response.status_code'],
      errorType: attributes['error.type'],
      ended: events.map((event) => event.name).find((event) => /^(load|error|abort|timeout)$/.test(event)),
    })),
  disable(): void {
    instrumentations?.fetch.disable();
    instrumentations?.xhr.disable();
  },
  /**
   * Takes the instrumentations' wrappers off by their shimmer `unwrap`, as older releases' `disable()` did
   * (0.223.0's only turns them off, leaving the wrappers in place), and as 0.223.0's `enable()` does when
   * wrapping failed. `_unwrap` is protected: called as the instrumentations call it.
   */
  unwrap(): void {
    type Unwrapping = { _unwrap(target: object, name: string): void };
    (instrumentations?.fetch as unknown as Unwrapping)._unwrap(globalThis, 'fetch');
    (instrumentations?.xhr as unknown as Unwrapping)._unwrap(XMLHttpRequest.prototype, 'open');
    (instrumentations?.xhr as unknown as Unwrapping)._unwrap(XMLHttpRequest.prototype, 'send');
  },
  enable(): void {
    instrumentations?.fetch.enable();
    instrumentations?.xhr.enable();
  },
};

(window as unknown as { otel: typeof otel }).otel = otel;
