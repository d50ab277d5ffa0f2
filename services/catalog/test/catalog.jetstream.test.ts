/** The catalogue contract against the JetStream KV store (always runs). */
import t from 'tap';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { createLogger } from '#shared/runtime/log.js';
import { startNats } from '../../../test/helpers/nats.js';
import { JetStreamCatalogStore } from '../catalog.jetstream.js';
import { catalogContract } from './catalog.contract.js';

const nats = await startNats();
const nc = await connect(nats.connectOptions());
t.teardown(async () => {
  await nc.close();
  await nats.stop();
});
const js = jetstream(nc);
const jsm = await jetstreamManager(nc);
let n = 0;

catalogContract(t, async (t) => {
  // Buckets of its own for every test: the stores never see each other.
  const id = ++n;
  const store = await JetStreamCatalogStore.open({
    js,
    jsm,
    replicas: 1,
    log: createLogger('test', 'error'),
    buckets: { catalog: `catalog-t${id}`, events: `catalog-events-t${id}` },
  });
  t.teardown(() => store.close());
  return store;
});
