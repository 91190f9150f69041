// jsdom ships no types and @types/jsdom is not a dependency: the part of its API the tests use.
declare module 'jsdom' {
  export interface ConstructorOptions {
    url?: string;
    referrer?: string;
    runScripts?: 'dangerously' | 'outside-only';
  }
  export class JSDOM {
    constructor(html?: string, options?: ConstructorOptions);
    readonly window: Window & typeof globalThis;
  }
}
