/** Facts about where the SDK runs, read when needed rather than at import (SSR imports the module too). */
export const inBrowser = (): boolean => typeof window !== 'undefined' && typeof document !== 'undefined';
