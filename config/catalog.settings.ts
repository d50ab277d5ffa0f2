/** The room catalogue (list queries) and event archive, projected from ROOM_EVENTS. */
import { int, str } from './setting.define.js';
import type { Check, SettingGroup, Values } from './setting.define.js';

export const catalogSettings = {
  mongodbUri: str(
    'MONGODB_URI',
    undefined,
    'MongoDB connection string. When set, the catalogue and the event archive live in MongoDB; otherwise in JetStream KV.',
    { secret: true },
  ),
  mongodbDb: str('MONGODB_DB', 'roomcast', 'MongoDB database of the catalogue.'),
  mongodbTimeoutMs: int(
    'MONGODB_TIMEOUT_MS',
    5000,
    'How long the MongoDB driver looks for a server before an operation fails, in ms.',
    100,
    120_000,
  ),
  durable: str(
    'CATALOG_DURABLE',
    'catalog',
    'Name of the projector durable consumer on ROOM_EVENTS; the store kind is appended (catalog-jetstream, catalog-mongodb).',
  ),
  maxInFlight: int(
    'CATALOG_MAX_IN_FLIGHT',
    256,
    'Event batches the projector applies at once (different rooms in parallel, one room in order).',
    1,
    100_000,
  ),
  ackWaitMs: int(
    'CATALOG_ACK_WAIT_MS',
    30_000,
    'Time a delivered batch may stay unacknowledged before JetStream redelivers it, in ms.',
    1000,
    3_600_000,
  ),
  retryDelayMs: int(
    'CATALOG_RETRY_DELAY_MS',
    1000,
    'Delay before a batch that failed (store down, or an earlier batch of its room not yet applied) is redelivered, in ms.',
    0,
    3_600_000,
  ),
  pageSize: int(
    'CATALOG_PAGE_SIZE',
    20,
    'Rooms per page of GET /api/rooms when no limit is given.',
    1,
    10_000,
  ),
  pageSizeMax: int(
    'CATALOG_PAGE_SIZE_MAX',
    100,
    'Largest limit GET /api/rooms accepts; a larger one is refused with BAD_FRAME.',
    1,
    10_000,
  ),
} satisfies SettingGroup;

export type CatalogConfig = Values<typeof catalogSettings>;

export const catalogChecks: readonly Check<{ catalog: CatalogConfig }>[] = [
  {
    // The durable name is a JetStream consumer name with a suffix appended.
    rule: 'CATALOG_DURABLE is a short consumer name',
    names: ['CATALOG_DURABLE'],
    broken: ({ catalog }) => !/^[A-Za-z0-9_-]{1,48}$/.test(catalog.durable),
    message: 'CATALOG_DURABLE: letters, digits, _ and - only, at most 48',
  },
  {
    rule: 'CATALOG_PAGE_SIZE is at most CATALOG_PAGE_SIZE_MAX',
    names: ['CATALOG_PAGE_SIZE', 'CATALOG_PAGE_SIZE_MAX'],
    broken: ({ catalog }) => catalog.pageSize > catalog.pageSizeMax,
    message: 'CATALOG_PAGE_SIZE: must not exceed CATALOG_PAGE_SIZE_MAX',
  },
];
