import t from 'tap';
import fc from 'fast-check';
import { formatResumeToken, parseResumeToken, resumeSecretHash } from './resume.token.js';

t.test('a token round-trips', (t) => {
  fc.assert(
    fc.property(
      fc.stringMatching(/^[A-Za-z0-9_-]{1,32}$/),
      fc.stringMatching(/^[A-Za-z0-9_-]{1,48}$/),
      (peerId, secret) => {
        t.same(parseResumeToken(formatResumeToken(peerId, secret)), { peerId, secret });
      },
    ),
  );
  t.end();
});

t.test('malformed tokens are refused', (t) => {
  for (const bad of ['', '.', 'abc', 'abc.', '.abc', 'a.b.c', 'a b.c', 'a*.c', 'a>.c']) {
    t.equal(parseResumeToken(bad), null, JSON.stringify(bad));
  }
  t.end();
});

t.test('the hash is stable and hides the secret', (t) => {
  t.equal(resumeSecretHash('s'), resumeSecretHash('s'));
  t.not(resumeSecretHash('s'), resumeSecretHash('t'));
  t.notMatch(resumeSecretHash('secret'), /secret/);
  t.end();
});
