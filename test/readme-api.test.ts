import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMoesif } from '../src/moesif';

/** The README as a user reads it, against the methods an instance really has. */
const README = readFileSync(`${process.cwd()}/README.md`, 'utf8');
const section = (title: string): string => README.split(`\n## ${title}\n`)[1]!.split('\n## ')[0]!;
const methods = Object.keys(createMoesif()).sort();

describe("the README's API", () => {
  it('lists every method of an instance in its table, and no other', () => {
    const rows = section('API')
      .split('\n')
      .filter((line) => line.startsWith('| `'));
    const named = rows.flatMap((row) => Array.from(row.split('|')[1]!.matchAll(/`(\w+)\(/g), (match) => match[1]!));
    expect([...new Set(named)].sort()).toEqual(methods);
  });

  it("the async loader's stub, and the methods the README says exist once the script has run, are every method", () => {
    const quickStart = section('Quick start');
    const stub = JSON.parse(/<!-- loader-snippet -->[\s\S]*?(\["init"[^\]]*\])/.exec(quickStart)![1]!) as string[];
    const afterLoad = /The others \(([\s\S]*?)\) exist once the script has run/.exec(quickStart)![1]!;
    const named = Array.from(afterLoad.matchAll(/`(\w+)\(/g), (match) => match[1]!);
    // "the getters such as getAnonymousId()": every get* method.
    const later = [...named, ...methods.filter((name) => name.startsWith('get'))];
    expect(stub.filter((name) => later.includes(name))).toEqual([]);
    expect([...new Set([...stub, ...later])].sort()).toEqual(methods);
  });
});
