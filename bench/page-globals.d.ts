/** What a benchmark page's own scripts find: the SDK under test's global, usertrail's or moesif-browser-js's (the same API). */
declare const moesif: {
  track(name: string, metadata?: object): void;
};
