/**
 * OpenTelemetry's API as its packages register it on the global object (@opentelemetry/api 1.x, every
 * copy on the page shares it), and the context key its SDK's `suppressTracing()` sets (the same in
 * @opentelemetry/core 1.x and 2.x). Both are made with `Symbol.for`, so they are found without importing
 * OpenTelemetry.
 */
const OTEL_API = Symbol.for('opentelemetry.js.api.1');
const SUPPRESS_TRACING = Symbol.for('OpenTelemetry SDK Context Key SUPPRESS_TRACING');

/** The part of OpenTelemetry's global API read here: its context manager's active context. */
type OtelApi = { context?: { active(): { getValue(key: symbol): unknown } } };

/**
 * Whether the call being made now is OpenTelemetry's own: made while its tracing is suppressed, as its
 * span processors suppress it around their exporters' `export()` (the OTLP/HTTP exporter for browsers
 * sends by fetch from there), so that they do not trace their own requests. Capture leaves those out
 * too: they are telemetry, not the app's API. Recorded, they loop when OpenTelemetry traces the SDK's
 * requests to its collector (OpenTelemetry's instrumentation set up before `moesif.init()`): an export,
 * its event, the batch carrying it, the batch's span, the export of that span, and so on, for as long as
 * the page is open. Never throws.
 */
export function madeByOpenTelemetry(): boolean {
  try {
    return (globalThis as unknown as Record<symbol, OtelApi | undefined>)[OTEL_API]?.context?.active().getValue(SUPPRESS_TRACING) === true;
  } catch {
    return false; // another library's object under that key
  }
}
