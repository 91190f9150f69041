// @vitest-environment node
/**
 * Which headers count as secrets, in the browser (src/capture/headers.ts: one broad pattern, for its
 * size) and in usertrail/server (src/server/body.ts: a list of names and name suffixes, since a server
 * sees all of its API's headers and some with "key" in their name are not credentials). One table
 * for both: where they differ, the row says why, and the test fails if either side changes.
 */
import { describe, expect, it } from 'vitest';
import { headerRecord } from '../src/capture/headers';
import { flattenHeaders } from '../src/server/headers';
import { MASK } from '../src/wire';

interface Row {
  header: string;
  value: string;
  /** What the browser SDK sends for it. */
  browser: string;
  /** What usertrail/server sends for it. */
  server: string;
  /** Required when browser and server differ. */
  why?: string;
}

const masked = (header: string, value = 'credential-1234'): Row => ({ header, value, browser: MASK, server: MASK });
const kept = (header: string, value = 'plain-value'): Row => ({ header, value, browser: value, server: value });

const TABLE: Row[] = [
  masked('cookie', 'sid=abc'),
  masked('set-cookie', 'sid=abc; Path=/'),
  masked('x-api-key'),
  masked('api-key'),
  masked('x-auth-token'),
  masked('x-csrf-token'),
  masked('x-xsrf-token'),
  masked('x-session-id'),
  masked('x-client-secret'),
  masked('x-password'),
  masked('ocp-apim-subscription-key'),
  kept('content-type', 'application/json'),
  kept('x-request-id', 'req-42'),
  kept('user-agent', 'curl/8.0'),
  {
    header: 'authorization',
    value: 'Bearer abc.def',
    browser: MASK,
    server: `Bearer ${MASK}`,
    why: 'the server keeps the scheme, which says how a client authenticated (the browser pattern masks whole values: fewer bytes)',
  },
  {
    header: 'proxy-authorization',
    value: 'Basic dXNlcjpwYXNz',
    browser: MASK,
    server: `Basic ${MASK}`,
    why: 'as for authorization',
  },
  {
    header: 'idempotency-key',
    value: 'order-7-attempt',
    browser: MASK,
    server: 'order-7-attempt',
    why: "a retry id, not a credential: the server's operators look calls up by it; the browser's pattern masks any name with 'key'",
  },
  {
    header: 'x-public-key',
    value: 'pk_live_123',
    browser: MASK,
    server: 'pk_live_123',
    why: "public by definition; the server matches key names by what they unlock (secret-, access-, subscription-key), the browser any 'key'",
  },
  {
    header: 'x-authenticated-user',
    value: 'alice',
    browser: MASK,
    server: 'alice',
    why: "the browser masks any name containing 'auth'; the server masks names that end in a credential word only",
  },
  {
    header: 'x-moesif-application-id',
    value: 'app-1',
    browser: 'app-1',
    server: MASK,
    why: "the browser never captures a call that carries it (it is the SDK's own request, see capture.test.ts) and the id is in the page anyway",
  },
];

describe('one table of what counts as a secret in a header', () => {
  it.each(TABLE)('$header: browser and server each send what the table says', ({ header, value, browser, server }) => {
    expect(headerRecord([[header, value]])).toEqual({ [header]: browser });
    expect(flattenHeaders({ [header]: value })).toEqual({ [header]: server });
  });

  it('every difference between browser and server says why', () => {
    const unexplained = TABLE.filter((row) => row.browser !== row.server && !row.why).map((row) => row.header);
    expect(unexplained).toEqual([]);
  });
});
