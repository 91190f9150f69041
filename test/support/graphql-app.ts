/**
 * A GraphQL API as Apollo's docs build one: Apollo Server 5 on Express 5 through
 * @as-integrations/express5, `express.json()` before it, and express-jwt 8 putting a verified token
 * on `req.auth` (as the seed's app does), which Apollo's context hands to the resolvers. A middleware
 * (moesif-nodejs's or usertrail's) is mounted where moesif's README puts it, after the body parser, or
 * first, where moesif's Apollo example (Moesif/moesif-apollo-graphql-example) and usertrail's README put it.
 * Used by test/server/graphql.test.ts (Node's fetch) and e2e/graphql.spec.ts (Apollo Client in Chromium).
 */
import { createRequire } from 'node:module';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, type LegacyExperimentalExecuteIncrementally } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type RequestHandler } from 'express';
import { expressjwt, type Request as JwtRequest } from 'express-jwt';
import type { DocumentNode, ExecutionArgs } from 'graphql';

// graphql 16 as Apollo Server gets it: Node's resolution of 'graphql' (its CommonJS main). Vite, which
// runs the vitest files, resolves an import of it to its ES module build, another copy of graphql, whose
// execute() refuses Apollo's schema ("Cannot use GraphQLSchema from another module or realm").
const { execute, GraphQLError, visit } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

export const GRAPHQL_JWT_SECRET = 'graphql-shared-secret';

export const TYPE_DEFS = /* GraphQL */ `
  # graphql 16 knows no @defer; declared, it passes validation and graphql 16 ignores it.
  directive @defer(if: Boolean! = true, label: String) on FRAGMENT_SPREAD | INLINE_FRAGMENT

  type Book {
    id: ID!
    title: String!
    reviews: [String!]!
  }
  type Session {
    user: String!
    token: String!
  }
  type Query {
    books: [Book!]!
    book(id: ID!): Book
    me: String
    broken: String
  }
  type Mutation {
    addBook(title: String!): Book!
    logIn(email: String!, password: String!): Session!
  }
`;

interface Context {
  /** The verified token's subject, from express-jwt's req.auth. */
  user?: string;
}

const BOOKS = [
  { id: '1', title: 'Kindred', reviews: ['gripping'] },
  { id: '2', title: 'Parable of the Sower', reviews: ['prescient', 'bleak'] },
];

/** What logIn answers as the session's token. */
export const SESSION_TOKEN = 'session-token-of-ada';

/** A resolver error, answered 200 with `errors` beside the data. */
export const BROKEN_MESSAGE = 'the reviews database is down';

const resolvers = {
  Query: {
    books: () => BOOKS,
    book: (_: unknown, { id }: { id: string }) => BOOKS.find((book) => book.id === id) ?? null,
    me: (_: unknown, __: unknown, context: Context) => context.user ?? null,
    broken: () => {
      throw new GraphQLError(BROKEN_MESSAGE, { extensions: { code: 'DOWNSTREAM_FAILED' } });
    },
  },
  Mutation: {
    // A new book each time, numbered from 3, never kept: every app starts from the same state.
    addBook: (_: unknown, { title }: { title: string }) => ({ id: '3', title, reviews: [] }),
    logIn: (_: unknown, { email }: { email: string }) => ({ user: email.split('@')[0], token: SESSION_TOKEN }),
  },
};

/** The document without its deferred inline fragments: what the first part of a deferred answer carries. */
function withoutDeferred(document: DocumentNode): DocumentNode {
  return visit(document, {
    InlineFragment: (node) => (node.directives?.some((directive) => directive.name.value === 'defer') ? null : undefined),
  });
}

const hasDefer = (document: DocumentNode): boolean => {
  let found = false;
  visit(document, {
    Directive: (node) => {
      if (node.name.value === 'defer') found = true;
    },
  });
  return found;
};

/**
 * Incremental delivery for this app. Apollo Server 5 runs @defer with graphql 17.0.0-alpha.9 only;
 * with graphql 16 it answers a deferred query in one JSON response, unless it is given this option's
 * executor (for clients that accept `multipart/mixed; deferSpec=20220824`, Apollo Client's
 * Defer20220824Handler). This one stands in for graphql 17's: the first part is the query run without
 * its deferred fragments, the second (after `deferred` resolves) the root fields' objects in full.
 * Apollo Server writes the parts as a streamed multipart/mixed answer, which is what is tested.
 */
function deferringExecutor(deferred: () => Promise<void>): LegacyExperimentalExecuteIncrementally {
  return async (args: ExecutionArgs) => {
    if (!hasDefer(args.document)) return execute(args);
    const initial = await execute({ ...args, document: withoutDeferred(args.document) });
    const full = await execute(args);
    async function* subsequentResults() {
      await deferred();
      const data = (full.data ?? {}) as Record<string, unknown>;
      yield { hasNext: false, incremental: Object.entries(data).map(([field, value]) => ({ path: [field], data: value as Record<string, unknown> })) };
    }
    return { initialResult: { ...initial, hasNext: true }, subsequentResults: subsequentResults() };
  };
}

/** The SHA-256 of a query the server has never seen: Apollo answers PERSISTED_QUERY_NOT_FOUND. */
export const UNKNOWN_QUERY_HASH = 'ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38';

export interface GraphqlApp {
  url: string;
  /** The GraphQL endpoint. */
  endpoint: string;
  /** Lets the second part of deferred answers go (they wait until then). */
  releaseDeferred(): void;
  close(): Promise<void>;
}

export interface GraphqlAppOptions {
  /** Mounted after express.json() and express-jwt, before Apollo; none when undefined. */
  middleware?: RequestHandler;
  /** Mount the middleware first instead, before the body parser, as moesif's Apollo example does. */
  first?: boolean;
  /** Answers cross-origin calls (a page on another origin), as the browser tests need. */
  cors?: boolean;
}

/** CORS for the browser tests' page: Apollo Client's headers, and the transaction id header readable. */
const allowCrossOrigin: RequestHandler = (req, res, next) => {
  res.set('Access-Control-Allow-Origin', '*');
  res.set('Access-Control-Expose-Headers', 'x-moesif-transaction-id');
  if (req.method !== 'OPTIONS') return next();
  res.set('Access-Control-Allow-Methods', 'GET, POST');
  res.set('Access-Control-Allow-Headers', 'authorization, content-type, apollo-require-preflight');
  res.status(204).end();
};

export async function startGraphqlApp({ middleware, first = false, cors = false }: GraphqlAppOptions = {}): Promise<GraphqlApp> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const server = new ApolloServer<Context>({
    typeDefs: TYPE_DEFS,
    resolvers,
    allowBatchedHttpRequests: true,
    legacyExperimentalExecuteIncrementally: deferringExecutor(() => released),
  });
  await server.start();

  const app = express();
  if (middleware && first) app.use(middleware);
  if (cors) app.use(allowCrossOrigin);
  app.use(express.json());
  // As the seed: a token is verified when sent, and a call without one goes on as anonymous.
  app.use(expressjwt({ secret: GRAPHQL_JWT_SECRET, algorithms: ['HS256'], credentialsRequired: false }));
  if (middleware && !first) app.use(middleware);
  app.use('/graphql', expressMiddleware(server, { context: async ({ req }) => ({ user: (req as JwtRequest).auth?.sub }) }));

  const http = createServer(app as (req: IncomingMessage, res: ServerResponse) => void);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  return {
    url,
    endpoint: `${url}/graphql`,
    releaseDeferred: release,
    async close() {
      release();
      await new Promise((resolve) => {
        http.close(resolve);
        http.closeAllConnections();
      });
      await server.stop();
    },
  };
}
