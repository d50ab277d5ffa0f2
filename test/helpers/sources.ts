/**
 * The repository's TypeScript sources, for the tests that check their shape
 * (cycles.test.ts, layout.test.ts): listed from the folders that hold code, and
 * their static imports resolved to files.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** The repository root (absolute). */
export const root = fileURLToPath(new URL('../../', import.meta.url));

/** Folders that are never sources: installed or built code. */
const skipped = new Set(['node_modules', 'dist']);

/** Every `.ts` file under `dirs` (relative to the root), as root-relative paths with `/`. */
export function sourceFiles(dirs: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!skipped.has(entry.name)) walk(path);
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        out.push(toRel(path));
      }
    }
  };
  for (const d of dirs) if (existsSync(join(root, d))) walk(join(root, d));
  return out.sort();
}

const toRel = (abs: string): string => relative(root, abs).split(sep).join('/');

/**
 * The specifiers of a file's static imports and re-exports, `import type` and
 * `export type` included (a type-only cycle still ties the modules together).
 * Dynamic `import()` is left out: it loads later, on purpose. Read with the
 * TypeScript parser, so imports quoted in comments or strings do not count.
 */
export function staticImports(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
  const out: string[] = [];
  for (const statement of source.statements) {
    if (
      (ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) &&
      statement.moduleSpecifier !== undefined &&
      ts.isStringLiteral(statement.moduleSpecifier)
    )
      out.push(statement.moduleSpecifier.text);
  }
  return out;
}

/** The package.json subpath imports we use, as source folders (the `roomcast-source` condition). */
const subpaths: Record<string, string> = { '#shared/': 'shared/', '#config/': 'config/' };

/**
 * The root-relative `.ts` file a specifier of `from` names, or `undefined` for a
 * package, a built-in, or a file that is not TypeScript (JSON).
 */
export function resolveImport(from: string, specifier: string): string | undefined {
  let target: string | undefined;
  if (specifier.startsWith('.')) target = resolve(root, dirname(from), specifier);
  else
    for (const [prefix, folder] of Object.entries(subpaths))
      if (specifier.startsWith(prefix)) target = join(root, folder, specifier.slice(prefix.length));
  if (target === undefined) return undefined;
  // NodeNext: a `.js` specifier names the `.ts` file beside it.
  const candidates = [
    target.replace(/\.js$/, '.ts'),
    target,
    `${target}.ts`,
    join(target, 'index.ts'),
  ];
  const found = candidates.find((c) => c.endsWith('.ts') && existsSync(c));
  return found === undefined ? undefined : toRel(found);
}
