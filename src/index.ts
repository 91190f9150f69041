/**
 * usertrail: a drop-in replacement for moesif-browser-js.
 *
 *   import moesif from 'usertrail';
 *   moesif.init({ applicationId: '...' });
 *
 * Every member of the instance is also a named export bound to the default instance: bundlers give
 * `require('usertrail')` this module's namespace (the "module" condition of package.json's exports),
 * so that an app mixing import and require has one instance, and moesif's `moesif.init(...)`,
 * `moesif.new()` and the rest must work on it. Importing does nothing by itself (no storage,
 * listeners or requests until init()), and on a server every method is a no-op.
 */
import { createCapture } from './capture/index.js';
import { createMoesif, type Moesif } from './moesif.js';

const moesif: Moesif = /* @__PURE__ */ createMoesif(createCapture);
export default moesif;

export const init: Moesif['init'] = (options) => moesif.init(options);
export const identifyUser: Moesif['identifyUser'] = (userId, metadata) => moesif.identifyUser(userId, metadata);
export const identifyCompany: Moesif['identifyCompany'] = (companyId, metadata, companyDomain) =>
  moesif.identifyCompany(companyId, metadata, companyDomain);
export const identifySession: Moesif['identifySession'] = (sessionToken) => moesif.identifySession(sessionToken);
export const track: Moesif['track'] = (actionName, metadata) => moesif.track(actionName, metadata);
export const reset: Moesif['reset'] = () => moesif.reset();
export const resetAnonymousId: Moesif['resetAnonymousId'] = () => moesif.resetAnonymousId();
export const clearCookies: Moesif['clearCookies'] = () => moesif.clearCookies();
export const clearStorage: Moesif['clearStorage'] = () => moesif.clearStorage();
export const useWeb3: Moesif['useWeb3'] = (web3) => moesif.useWeb3(web3);
export const getAnonymousId: Moesif['getAnonymousId'] = () => moesif.getAnonymousId();
export const getUserId: Moesif['getUserId'] = () => moesif.getUserId();
export const getCompanyId: Moesif['getCompanyId'] = () => moesif.getCompanyId();
export const getSessionToken: Moesif['getSessionToken'] = () => moesif.getSessionToken();
export const start: Moesif['start'] = () => moesif.start();
export const stop: Moesif['stop'] = () => moesif.stop();
export const trackPageView: Moesif['trackPageView'] = (metadata) => moesif.trackPageView(metadata);
export const grantPublishingConsent: Moesif['grantPublishingConsent'] = () => moesif.grantPublishingConsent();
export const revokePublishingConsent: Moesif['revokePublishingConsent'] = () => moesif.revokePublishingConsent();
export const isPublishingConsentGranted: Moesif['isPublishingConsentGranted'] = () => moesif.isPublishingConsentGranted();
export const cdtUrlDecorator: Moesif['cdtUrlDecorator'] = (url, overrideCDTTargets) => moesif.cdtUrlDecorator(url, overrideCDTTargets);
export const flush: Moesif['flush'] = () => moesif.flush();
export const getStats: Moesif['getStats'] = () => moesif.getStats();
// `new` is a reserved word: a const cannot have it as its name, but an export can.
const newInstance: Moesif['new'] = () => moesif.new();
export { newInstance as new };
export { createMoesif };

export type { Moesif } from './moesif.js';
export type { Options } from './options.js';
export type { DeliveryStats } from './delivery/index.js';
export type { ActionPayload, Campaign, CapturedEvent, CompanyPayload, DeliveryOutcome, Metadata, UserPayload } from './wire.js';
