/**
 * Renders the configuration table (config/config.ts `describeConfig`, from the
 * declarations in config/<group>.settings.ts) into the README between its
 * `config-table` markers: `npm run config-doc`. A test fails when the README's
 * table is not the one this renders.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describeConfig } from '#config/config.js';

const START = '<!-- config-table:start -->';
const END = '<!-- config-table:end -->';

/** The markdown table of every setting. */
export function configTable(): string {
  const cell = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');
  const rows = describeConfig().map(
    (r) =>
      `| \`${r.env}\` | ${cell(r.default === '(none)' ? '—' : `\`${r.default}\``)} | ${cell(r.doc)} |`,
  );
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

/** `readme` with its table replaced by the current one. */
export function withConfigTable(readme: string): string {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README has no ${START} … ${END} markers`);
  return `${readme.slice(0, a + START.length)}\n${configTable()}\n${readme.slice(b)}`;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const path = fileURLToPath(new URL('../README.md', import.meta.url));
  writeFileSync(path, withConfigTable(readFileSync(path, 'utf8')));
}
