import { describe, expect, it } from 'vitest';
import { classifyResponse, type Verdict } from '../src/delivery/classify';

describe('classifyResponse: what happens to a batch once its request settled', () => {
  it.each<[string, { status: number; count: number; unanswered: number }, Verdict]>([
    ['200 OK', { status: 200, count: 5, unanswered: 0 }, 'sent'],
    ['201 Created', { status: 201, count: 1, unanswered: 0 }, 'sent'],
    ['202 Accepted (a queued beacon)', { status: 202, count: 3, unanswered: 0 }, 'sent'],
    ['204 No Content', { status: 204, count: 1, unanswered: 0 }, 'sent'],
    ['299, the last success', { status: 299, count: 1, unanswered: 0 }, 'sent'],
    ['413 for several items: halves', { status: 413, count: 2, unanswered: 0 }, 'split'],
    ['413 for one item: it can never fit', { status: 413, count: 1, unanswered: 0 }, 'drop'],
    ['400 Bad Request', { status: 400, count: 4, unanswered: 0 }, 'drop'],
    ['401 Unauthorized (a wrong application id)', { status: 401, count: 4, unanswered: 0 }, 'drop'],
    ['404 Not Found', { status: 404, count: 1, unanswered: 0 }, 'drop'],
    ['300, a redirect fetch did not follow', { status: 300, count: 1, unanswered: 0 }, 'drop'],
    ['408 Request Timeout', { status: 408, count: 2, unanswered: 0 }, 'retry'],
    ['429 Too Many Requests', { status: 429, count: 2, unanswered: 0 }, 'retry'],
    ['500 Internal Server Error', { status: 500, count: 2, unanswered: 0 }, 'retry'],
    ['503 Service Unavailable', { status: 503, count: 2, unanswered: 0 }, 'retry'],
    ['no answer, the first in a row', { status: 0, count: 2, unanswered: 1 }, 'retry'],
    ['no answer, the second in a row', { status: 0, count: 2, unanswered: 2 }, 'retry'],
    ['no answer, the third in a row: blocked', { status: 0, count: 2, unanswered: 3 }, 'blocked'],
    ['no answer, the fourth in a row', { status: 0, count: 1, unanswered: 4 }, 'blocked'],
    ['no answer while offline (the count stays 0)', { status: 0, count: 1, unanswered: 0 }, 'retry'],
  ])('%s', (_name, settled, verdict) => {
    expect(classifyResponse(settled)).toBe(verdict);
  });
});
