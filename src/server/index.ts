// usertrail/server: see issue 6. Filled in by the server-integration work.
export {};
