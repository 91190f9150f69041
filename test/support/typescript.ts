import ts from 'typescript';

/**
 * Compiler hosts for tests that type-check many small programs: every file but the test's own (under
 * `ownDir`) is parsed once and shared, as tsc's watch mode and language service share them.
 * TypeScript's libs, @types/node and the package's sources are the same in each program, and parsing
 * them again was most of each program's second or so. A file is parsed again only for another
 * language version or module format (the key), so programs with other module settings share it too.
 */
export function sharedHost(): (options: ts.CompilerOptions, ownDir: string) => ts.CompilerHost {
  const parsed = new Map<string, ts.SourceFile | undefined>();
  return (options, ownDir) => {
    const host = ts.createCompilerHost(options);
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (fileName, languageVersion, ...rest) => {
      if (fileName.startsWith(ownDir)) return getSourceFile(fileName, languageVersion, ...rest);
      const key = `${fileName} ${JSON.stringify(languageVersion)}`;
      if (!parsed.has(key)) parsed.set(key, getSourceFile(fileName, languageVersion, ...rest));
      return parsed.get(key);
    };
    return host;
  };
}
