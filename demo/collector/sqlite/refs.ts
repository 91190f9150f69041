/**
 * References: every user id and anonymous id (profiles), company id (company_figures), action name
 * or user agent (names) and session token (sessions) is stored once and referred to by number.
 */
import type Database from 'better-sqlite3';

/** Finding references without creating them (reading, and moves that have nothing to do when an id is new). */
export interface RefLookups {
  findProfile(id: string): number | undefined;
  findCompany(id: string): number | undefined;
  findName(name: string): number | undefined;
  profileIdOf(ref: number): string;
  companyIdOf(ref: number): string;
}

/** References created on first sight (writing). */
export interface Refs extends RefLookups {
  profileRef(id: string): number;
  companyRef(id: string): number;
  nameRef(name: string): number;
  sessionRef(token: string): number;
  /** Forgets the references remembered during a transaction: at its end, and when it is rolled back. */
  forget(): void;
}

export function createRefs(db: Database.Database): Refs {
  const find = {
    profile: db.prepare('SELECT ref FROM profiles WHERE id = ?').pluck(),
    company: db.prepare('SELECT ref FROM company_figures WHERE id = ?').pluck(),
    name: db.prepare('SELECT ref FROM names WHERE name = ?').pluck(),
    session: db.prepare('SELECT ref FROM sessions WHERE token = ?').pluck(),
  };
  const create = {
    profile: db.prepare('INSERT INTO profiles (id) VALUES (?)'),
    company: db.prepare('INSERT INTO company_figures (id) VALUES (?)'),
    name: db.prepare('INSERT INTO names (name) VALUES (?)'),
    session: db.prepare('INSERT INTO sessions (token) VALUES (?)'),
  };
  const profileIdOf = db.prepare('SELECT id FROM profiles WHERE ref = ?').pluck();
  const companyIdOf = db.prepare('SELECT id FROM company_figures WHERE ref = ?').pluck();

  /**
   * A reference by its text, created on first sight. The references a transaction looked up are
   * remembered until it ends (a batch names the same visitor, session and user agent again and
   * again), and forgotten then: those of a transaction rolled back no longer exist.
   */
  const remembered: Map<string, number>[] = [];
  function referrer(findOne: Database.Statement, createOne: Database.Statement): (text: string) => number {
    const seen = new Map<string, number>();
    remembered.push(seen);
    return (text) => {
      let ref = seen.get(text);
      if (ref === undefined) {
        ref = (findOne.get(text) as number | undefined) ?? Number(createOne.run(text).lastInsertRowid);
        seen.set(text, ref);
      }
      return ref;
    };
  }

  return {
    profileRef: referrer(find.profile, create.profile),
    companyRef: referrer(find.company, create.company),
    nameRef: referrer(find.name, create.name),
    sessionRef: referrer(find.session, create.session),
    forget: () => remembered.forEach((seen) => seen.clear()),
    findProfile: (id) => find.profile.get(id) as number | undefined,
    findCompany: (id) => find.company.get(id) as number | undefined,
    findName: (name) => find.name.get(name) as number | undefined,
    profileIdOf: (ref) => profileIdOf.get(ref) as string,
    companyIdOf: (ref) => companyIdOf.get(ref) as string,
  };
}
