import { describe, expect, it } from 'vitest';
import { toJson } from '../src/serialize';

const parsed = (value: unknown): unknown => JSON.parse(toJson(value)!);

describe('toJson', () => {
  it('cuts a cycle where it closes, and only there', () => {
    const node: Record<string, unknown> = { name: 'a', list: [1] };
    node.self = node;
    (node.list as unknown[]).push(node);
    expect(parsed({ node })).toEqual({ node: { name: 'a', list: [1, '[Circular]'], self: '[Circular]' } });
  });

  it('keeps an object reached twice by different paths: a shared value is not a cycle, in the careful pass too', () => {
    const address = { city: 'Lyon' };
    const sibling = { address };
    const shared = { billing: address, shipping: address, nested: [sibling, sibling] };
    const written = { billing: { city: 'Lyon' }, shipping: { city: 'Lyon' }, nested: [{ address: { city: 'Lyon' } }, { address: { city: 'Lyon' } }] };
    expect(parsed(shared)).toEqual(written);
    // A BigInt makes JSON.stringify refuse the value: the careful pass, which tracks ancestors, writes it.
    expect(parsed({ ...shared, id: 7n })).toEqual({ ...written, id: '7' });
  });

  it('cuts a cycle through a deeper ancestor, after siblings were written', () => {
    const root: Record<string, unknown> = { first: { leaf: 1 } };
    root.second = { back: root, leaf: { up: root } };
    expect(parsed(root)).toEqual({ first: { leaf: 1 }, second: { back: '[Circular]', leaf: { up: '[Circular]' } } });
  });

  it('writes BigInt as decimal strings, and follows toJSON', () => {
    expect(parsed({ big: 12345678901234567890n, at: new Date(0) })).toEqual({ big: '12345678901234567890', at: '1970-01-01T00:00:00.000Z' });
  });

  it('gives undefined, not a throw, when a getter throws', () => {
    const hostile = {
      get boom(): never {
        throw new Error('no');
      },
    };
    expect(toJson({ hostile })).toBeUndefined();
  });

  it('writes arrays as arrays on a page whose arrays have a toJSON (Prototype.js 1.6: JSON.stringify([1]) is \'"[1]"\')', () => {
    const arrays = Array.prototype as { toJSON?: () => string };
    arrays.toJSON = function (this: unknown[]) {
      return `[${this.map((item) => JSON.stringify(item)).join(', ')}]`;
    };
    try {
      const own = Object.assign(['kept'], { toJSON: () => 'its own' });
      expect(toJson({ tags: ['a', 'b'], nested: [1, [2, { list: [3] }]], empty: [], own, big: 1n })).toBe(
        '{"tags":["a","b"],"nested":[1,[2,{"list":[3]}]],"empty":[],"own":"its own","big":"1"}',
      );
      expect(toJson([1])).toBe('[1]');
    } finally {
      delete arrays.toJSON;
    }
  });
});
