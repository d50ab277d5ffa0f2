/**
 * No import cycles, anywhere: a cycle makes the load order decide what a module
 * sees at its top level (an import still `undefined` while its module loads), and
 * ties modules that should be separable. Every static import counts, `import type`
 * too: a type-only cycle is still two modules that cannot be understood, moved or
 * tested one without the other.
 *
 * The graph: every `.ts` file under the code folders, an edge per static import
 * or re-export resolved to a file (relative, `#shared/*`, `#config/*`). Its
 * strongly connected components (Tarjan) with more than one file, or a file
 * importing itself, are the cycles; each is reported with one closed path in it.
 */
import t from 'tap';
import { resolveImport, sourceFiles, staticImports } from './helpers/sources.js';

const folders = ['services', 'shared', 'config', 'scripts', 'bench', 'test'];

/** file → the files it imports. */
function importGraph(files: readonly string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets = new Set<string>();
    for (const specifier of staticImports(file)) {
      const target = resolveImport(file, specifier);
      if (target !== undefined) targets.add(target);
    }
    graph.set(file, [...targets].sort());
  }
  return graph;
}

/** Tarjan's strongly connected components that are cycles (size > 1, or a self-import). */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    for (let w: string | undefined; w !== v;) {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    }
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

/** One closed path through a component, from its first file back to it (breadth-first). */
function pathIn(graph: ReadonlyMap<string, readonly string[]>, component: string[]): string[] {
  const members = new Set(component);
  const start = component[0]!;
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u: string | undefined = v; u !== undefined && u !== start; u = cameFrom.get(u))
          path.splice(1, 0, u);
        return [...path, start];
      }
      if (!cameFrom.has(w)) {
        cameFrom.set(w, v);
        queue.push(w);
      }
    }
  }
  return component;
}

t.test('the cycle finder finds what it should', async (t) => {
  const graph = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a', 'd']],
    ['d', []],
    ['e', ['e']],
    ['f', ['d']],
  ]);
  t.same(cycles(graph), [['a', 'b', 'c'], ['e']]);
  t.same(pathIn(graph, ['a', 'b', 'c']), ['a', 'b', 'c', 'a']);
  t.same(pathIn(graph, ['e']), ['e', 'e']);
  t.same(
    cycles(
      new Map([
        ['a', ['b']],
        ['b', []],
      ]),
    ),
    [],
  );
});

t.test('the import resolver follows our specifiers to files', async (t) => {
  t.equal(resolveImport('test/cycles.test.ts', './helpers/sources.js'), 'test/helpers/sources.ts');
  t.equal(resolveImport('scripts/start.ts', '#shared/runtime/bus.js'), 'shared/runtime/bus.ts');
  t.equal(resolveImport('scripts/start.ts', '#config/config.js'), 'config/config.ts');
  t.equal(resolveImport('scripts/start.ts', 'node:fs'), undefined);
  t.equal(resolveImport('scripts/start.ts', '@nats-io/nats-core'), undefined);
});

t.test('no import cycles in the repository', async (t) => {
  const files = sourceFiles(folders);
  t.ok(files.length > 100, `read ${files.length} files`);
  const graph = importGraph(files);
  const found = cycles(graph);
  t.same(
    found.map((c) => {
      const path = pathIn(graph, c);
      // A component can hold more files than one path through it shows.
      const rest = c.filter((f) => !path.includes(f));
      return (
        path.join(' → ') + (rest.length > 0 ? ` (also in this cycle: ${rest.join(', ')})` : '')
      );
    }),
    [],
    'each row is one cycle (a path around it); break it by moving what both sides need',
  );
});
