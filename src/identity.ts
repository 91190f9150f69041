/**
 * Storage keys of moesif-browser-js after its `moesif_` prefix (which `persistenceKeyPrefix`
 * replaces), kept as they are so that existing visitors keep their ids. Named by the wire field
 * each one holds; the campaign is last.
 */
export const KEYS = {
  anonymous_id: 'anonymous_id',
  user_id: 'stored_user_id',
  company_id: 'stored_company_id',
  session_token: 'stored_session_id',
  campaign: 'campaign_data',
} as const;

export type Field = keyof typeof KEYS;
export type IdField = Exclude<Field, 'campaign'>;
