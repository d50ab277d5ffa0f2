/**
 * The catalogue contract against MongoDB, whenever MONGODB_URI is set: each test
 * gets a database of its own, dropped afterwards. No MongoDB server can be
 * installed on the CI machines, so without MONGODB_URI this says so and skips.
 */
import t from 'tap';
import { MongoCatalogStore } from '../catalog.mongodb.js';
import { catalogContract } from './catalog.contract.js';

const uri = process.env.MONGODB_URI;
if (uri === undefined || uri === '') {
  t.test(
    'MongoDB catalogue contract',
    { skip: 'MONGODB_URI is not set (no MongoDB server here): set it to run this against MongoDB' },
    () => undefined,
  );
} else {
  const run = `${process.pid}_${Date.now().toString(36)}`;
  let n = 0;
  catalogContract(t, async (t) => {
    const store = await MongoCatalogStore.open({
      uri,
      dbName: `roomcast_test_${run}_${++n}`,
      serverSelectionTimeoutMs: 5000,
    });
    t.teardown(async () => {
      await store.dropDatabase();
      await store.close();
    });
    return store;
  });
}
