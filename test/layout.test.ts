/**
 * One job per file, so no file of the code (services/, shared/, config/) is over
 * 350 lines: a longer one is several jobs, to be split behind a short entry.
 *
 * The convention for a file that must stay longer: its first comment block says
 * why, on a line of its own that starts with `Longer than 350 lines because`
 * (after the comment's leading `*` or `//`), e.g.
 *
 *   /**
 *    * Longer than 350 lines because the table of every setting reads best whole.
 *    *\/
 *
 * Test files (`*.test.ts`, and the helpers under a `test/` folder) are not counted:
 * a test file is a table of cases for one module, and its length is the number of
 * cases, not a sign of several jobs.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root, sourceFiles } from './helpers/sources.js';

const MAX_LINES = 350;
const folders = ['services', 'shared', 'config'];
const reason = /^\s*(?:\/\*\*?|\*|\/\/)?\s*Longer than 350 lines because\b/;

/** The first comment block of a file: leading `//` lines or its first `/* ... *\/`. */
function firstComment(text: string): string[] {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() !== '');
  const first = lines[start]?.trim() ?? '';
  if (first.startsWith('/*')) {
    const end = lines.findIndex((l, i) => i >= start && l.includes('*/'));
    return lines.slice(start, end === -1 ? undefined : end + 1);
  }
  if (first.startsWith('//')) {
    const block: string[] = [];
    for (const l of lines.slice(start)) {
      if (!l.trim().startsWith('//')) break;
      block.push(l);
    }
    return block;
  }
  return [];
}

/** Test files and test helpers: not held to the code's length (see the header). */
const isTest = (file: string) => file.endsWith('.test.ts') || file.split('/').includes('test');

/** True when the file states why it is longer, by the convention above. */
function saysWhyLonger(text: string): boolean {
  return firstComment(text).some((l) => reason.test(l));
}

t.test('the convention is read as documented', async (t) => {
  t.ok(saysWhyLonger('/**\n * Longer than 350 lines because a table.\n */\nx'));
  t.ok(saysWhyLonger('// A title.\n// Longer than 350 lines because a table.\nx'));
  t.ok(saysWhyLonger('/** Longer than 350 lines because a table. */\nx'));
  t.notOk(saysWhyLonger('/** A title. */\n// Longer than 350 lines because later.\nx'));
  t.notOk(saysWhyLonger('x\n/** Longer than 350 lines because too late. */'));
  t.notOk(saysWhyLonger('/**\n * It is not Longer than 350 lines because of this.\n */'));
});

t.test(
  `no file in ${folders.join(', ')} is over ${MAX_LINES} lines without saying why`,
  async (t) => {
    const files = sourceFiles(folders);
    t.ok(files.length > 50, `read ${files.length} files`);
    const over: string[] = [];
    for (const file of files) {
      if (isTest(file)) continue;
      const text = readFileSync(join(root, file), 'utf8');
      const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
      if (lines > MAX_LINES && !saysWhyLonger(text)) over.push(`${file}: ${lines} lines`);
    }
    t.same(over, [], "split by job, or say why at the top (see this file's header)");
  },
);

/**
 * Where tests live: a test of one module that runs in the test process alone sits
 * beside the module (`x.test.ts` next to `x.ts`); a test that starts a server or a
 * process (nats-server, a service, a browser) sits in the `test/` folder of what it
 * tests (`services/<name>/test/`, `shared/test/`, or `test/` for the whole system).
 */
t.test('tests that start servers or processes live in a test/ folder', async (t) => {
  const starts =
    /helpers\/(nats|processes|system)\.js|startNats|startService|startSystem|playwright|spawn\(/;
  const misplaced = sourceFiles(folders)
    .filter((f) => f.endsWith('.test.ts') && !f.split('/').includes('test'))
    .filter((f) => starts.test(readFileSync(join(root, f), 'utf8')));
  t.same(misplaced, [], 'move them to their test/ folder');
});
