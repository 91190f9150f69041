/** The companies page: every company a call or an item named, most recently seen first, and its listed profiles. */
import type Database from 'better-sqlite3';
import type { CompanyFigures, FigureReader, ProfileFigures } from '../store.js';

type CompanyQueries = Pick<FigureReader, 'companies' | 'companyProfiles'>;

export function createCompanyQueries({ db }: { db: Database.Database }): CompanyQueries {
  const companies = db.prepare('SELECT f.* FROM company_figures f JOIN companies c ON c.company_id = f.id ORDER BY f.last_seen DESC, f.id');
  const companyProfiles = db.prepare('SELECT * FROM profiles WHERE active = 1 AND company_id = ? ORDER BY last_seen DESC, id');
  return {
    companies: () => companies.all() as CompanyFigures[],
    companyProfiles: (companyId) => companyProfiles.all(companyId) as ProfileFigures[],
  };
}
