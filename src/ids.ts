import { v4 } from 'uuid';

/**
 * A random RFC 9562 version 4 UUID, for every id the SDK makes (anonymous ids, transaction ids, outbox
 * keys). `uuid` uses crypto.randomUUID where the page is a secure context and fills the same layout
 * from crypto.getRandomValues where it is not (plain-http pages in local development).
 */
export const newId = (): string => v4();

/**
 * An id given by the app, as a string, or undefined when it is not a usable id:
 * empty, whitespace, 'undefined' / 'null' (what String(undefined) and stale storage produce),
 * or anything other than a string or a finite number.
 */
export function cleanId(value: unknown): string | undefined {
  const text = Number.isFinite(value) || typeof value == 'string' ? String(value).trim() : '';
  return text && text != 'undefined' && text != 'null' ? text : undefined;
}
