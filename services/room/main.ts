/**
 * Room service entry point: the only file here that reads the environment,
 * handles signals and opens connections.
 */
import { loadConfig } from '#config/config.js';
import { Bus } from '#shared/bus.js';
import { createLogger, type LogLevel } from '#shared/log.js';
import { MemoryRoomLog } from './room.log.js';
import { RoomService } from './room.service.js';

const config = loadConfig();
const logger = createLogger('room', config.log.level as LogLevel);
const bus = await Bus.connect({
  servers: config.nats.servers,
  name: 'room',
  requestTimeoutMs: config.nats.requestTimeoutMs,
  log: logger,
});
const service = new RoomService({ bus, config: config.room, log: new MemoryRoomLog(), logger });
service.start();
logger.info('room service ready', { nats: config.nats.servers });

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info('stopping', { signal });
  await service.stop();
  await bus.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
