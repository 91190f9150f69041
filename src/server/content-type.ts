/** What a body's Content-Type (or, without one, its first characters) says it is. */

export const isJsonType = (contentType: string): boolean => /[/+]json\b/i.test(contentType);
/**
 * Streams of JSON values: server-sent events (an LLM's tokens as `data: {...}` lines), NDJSON and JSON
 * Lines. Never whole JSON, so their fields were not masked (a `"token"` streamed went out as sent),
 * and NDJSON was not even text (base64, as moesif-nodejs sends it). Also multipart/mixed: GraphQL's
 * incremental delivery (Apollo Server's answer to `@defer`) sends each result as a JSON part.
 */
export const isJsonStreamType = (contentType: string): boolean => /event-stream|ndjson|jsonl\b|multipart\/mixed/i.test(contentType);
export const isFormType = (contentType: string): boolean => /x-www-form-urlencoded/i.test(contentType);
export const isTextType = (contentType: string): boolean =>
  /^text\/|[/+](json|xml)\b|javascript|x-www-form-urlencoded|graphql|ndjson|jsonl\b|multipart\/mixed/i.test(contentType);

/** Text that reads as JSON (an object or array), whatever its declared type. */
export const looksLikeJson = (text: string): boolean => /^\s*[[{]/.test(text);
