/**
 * `npm run chaos`, short: one round (a NATS node, a room replica, a gateway and the
 * stream service, each killed with SIGKILL and started again) under the mixed load;
 * every invariant must hold. The figures are printed as comments.
 */
import t from 'tap';
import { invariantsHold, runChaos } from '../bench/chaos/chaos.js';

t.test('chaos, one round of four kills: nothing acknowledged is lost', async (t) => {
  const report = await runChaos({ rounds: 1, workers: 4, print: (line) => t.comment(line) });
  const i = report.invariants;
  t.equal(report.kills.length, 4, 'one kill of each kind');
  t.ok(i.acknowledged > 0, `${i.acknowledged} acknowledged transitions`);
  t.same(i.lost, [], 'none lost');
  t.same(i.duplicated, [], 'none duplicated');
  t.same(i.gaps, [], 'every room log is one writer’s unbroken sequence');
  t.same(i.diverged, [], 'every live room equals its replay');
  t.same(i.twoPublishers, [], 'never two publishers');
  t.equal(i.outside, 0, 'refusals only inside failover windows');
  t.equal(report.resumes.samePeer, report.resumes.ok, 'resumes keep their peer id');
  t.ok(invariantsHold(report), 'the run says the invariants hold');
});
