/** The rules as configured: limits, clear levels, disabled rules. */
import t from 'tap';
import { ConfigError, loadConfig } from '#config/config.js';
import { rulesFromConfig } from './alert.rules.js';

const config = (env: Record<string, string> = {}) =>
  loadConfig({ ALERT_FOR_MS: '1000', ALERT_CLEAR_FOR_MS: '2000', ...env }).alert;

t.test('rulesFromConfig: clear levels and unknown disabled rules', async (t) => {
  const rules = rulesFromConfig(
    config({ ALERT_CPU_PERCENT: '80', ALERT_HYSTERESIS_PERCENT: '25' }),
  );
  t.match(
    rules.find((r) => r.id === 'cpu'),
    { threshold: 80, clearAt: 60, forMs: 1000, clearForMs: 2000 },
  );
  t.match(
    rules.find((r) => r.id === 'stream_failed'),
    { threshold: 0, clearAt: 0, severity: 'critical' },
  );
  t.equal(rules.length, 10);
  t.throws(() => rulesFromConfig(config({ ALERT_RULES_DISABLED: 'cpu,nope' })), ConfigError);
});

t.test(
  'srs_unreachable: raised when the stream service reports SRS down, by default',
  async (t) => {
    // One setting times SRS outages: STREAM_SRS_DOWN_AFTER_MS makes the stream service
    // report its streams unknown and its srs_down gauge 1; the rule adds nothing more.
    const all = loadConfig({});
    t.equal(all.alert.srsUnreachableForMs, 0);
    t.match(
      rulesFromConfig(all.alert).find((r) => r.id === 'srs_unreachable'),
      { threshold: 0, forMs: 0, severity: 'critical' },
    );
    t.equal(all.stream.srsDownAfterMs, 15_000);
  },
);
