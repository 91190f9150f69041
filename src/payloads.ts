import type { ActionPayload, Attribution, Campaign, CompanyPayload, Metadata, UserPayload } from './wire.js';

/**
 * The JSON of each item the public methods send (described in wire.ts), built from what the caller
 * read (ids, campaign, page address, time): pure functions, so each shape is tested without a page.
 */

/** A users call: links the anonymous visitor to the user, company and campaign known now. */
export const userPayload = (who: Attribution, anonymousId: string, campaign: Campaign | undefined, fields?: UserPayload): UserPayload => ({
  ...who,
  anonymous_id: anonymousId,
  campaign,
  ...fields,
});

export interface CompanyFields {
  companyId: string;
  /** Trimmed, and left out when empty or not a string an app meant (as ids are). */
  companyDomain: string | undefined;
  sessionToken: string | undefined;
  metadata: Metadata | undefined;
  campaign: Campaign | undefined;
}

export const companyPayload = ({ companyId, companyDomain, sessionToken, metadata, campaign }: CompanyFields): CompanyPayload => ({
  company_id: companyId,
  company_domain: companyDomain,
  session_token: sessionToken,
  metadata,
  campaign,
});

export interface ActionFields {
  actionName: string;
  metadata: Metadata | undefined;
  who: Attribution;
  transactionId: string;
  /** The page's address, when the action happened (ISO 8601) and the browser's User-Agent. */
  uri: string;
  time: string;
  userAgent: string;
}

/** An action: see ActionPayload. */
export const actionPayload = ({ actionName, metadata, who, transactionId, uri, time, userAgent }: ActionFields): ActionPayload => ({
  action_name: actionName,
  ...who,
  transaction_id: transactionId,
  request: { time, uri, verb: 'GET', user_agent_string: userAgent },
  metadata,
});
