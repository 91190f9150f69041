/**
 * A random RFC 4122 version 4 UUID. crypto.randomUUID exists only in secure contexts, so plain-http
 * pages (local development) get the same layout filled from crypto.getRandomValues: each 0, 1 and 8
 * of the template becomes a random hex digit, the 8 keeping the variant bits 10xx.
 * Our own 3 lines instead of the `uuid` package: it cost 300 bytes gzip of a 5,700-byte budget.
 */
export const newId = (): string =>
  crypto.randomUUID?.() ??
  '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (digit) =>
    (+digit ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (+digit / 4)))).toString(16),
  );

/**
 * An id given by the app, as a string, or undefined when it is not a usable id:
 * empty, whitespace, 'undefined' / 'null' (what String(undefined) and stale storage produce),
 * or anything other than a string or a finite number.
 */
export function cleanId(value: unknown): string | undefined {
  const text = Number.isFinite(value) || typeof value == 'string' ? String(value).trim() : '';
  return text && text != 'undefined' && text != 'null' ? text : undefined;
}
