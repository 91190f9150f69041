import { v4 } from 'uuid';

/** A random RFC 4122 version 4 UUID; `uuid` falls back to getRandomValues on plain-http pages. */
export const newId = (): string => v4();

/**
 * An id given by the app, as a string, or undefined when it is not a usable id:
 * empty, whitespace, 'undefined' / 'null' (what String(undefined) and stale storage produce),
 * or anything other than a string or a finite number.
 */
export function cleanId(value: unknown): string | undefined {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  if (typeof text !== 'string') return undefined;
  const trimmed = text.trim();
  return trimmed === '' || trimmed === 'undefined' || trimmed === 'null' ? undefined : trimmed;
}
