/** The README is the user's door: what it says about configuration must be what the code reads. */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { withConfigTable } from '../scripts/config-doc.js';
import { describeConfig } from '#config/config.js';

const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');

t.test('the configuration table lists every setting, as config/config.ts defines it', async (t) => {
  t.equal(
    readme,
    withConfigTable(readme),
    'up to date (run `npm run config-doc` after changing config/config.ts)',
  );
  for (const { env } of describeConfig()) t.ok(readme.includes(`\`${env}\``), env);
});

t.test('every error code of the table is documented', async (t) => {
  const { errorTable } = await import('#shared/wire/errors.js');
  for (const code of Object.keys(errorTable)) t.ok(readme.includes(`\`${code}\``), code);
});
