/** The catalogue contract against the JetStream KV store (always runs). */
import t from 'tap';
import { createLogger } from '#shared/runtime/log.js';
import { appendBatch, natsWithRoomEvents } from '../../../test/helpers/events.js';
import { JetStreamCatalogStore } from '../catalog.jetstream.js';
import { catalogContract } from './catalog.contract.js';

const { js, jsm } = await natsWithRoomEvents(t);
let n = 0;
/** Each room's next sequence in the log. */
const next = new Map<string, number>();

catalogContract(
  t,
  async (t) => {
    // A bucket of its own for every test: the stores never see each other.
    const store = await JetStreamCatalogStore.open({
      js,
      jsm,
      replicas: 1,
      log: createLogger('test', 'error'),
      bucket: `catalog-t${++n}`,
    });
    t.teardown(() => store.close());
    return store;
  },
  async (batch) => {
    // The room service's append is fenced on the room's last batch: one that writes a
    // sequence the log already holds is refused, so it never reaches the log.
    if (batch.seq < (next.get(batch.roomId) ?? 1)) return;
    await appendBatch(js, batch);
    next.set(batch.roomId, batch.seq + batch.events.length);
  },
);
