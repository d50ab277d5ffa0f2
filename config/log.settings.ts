/** Logging. */
import { oneOf, type SettingGroup, type Values } from './setting.define.js';

export const logSettings = {
  level: oneOf(
    'LOG_LEVEL',
    ['debug', 'info', 'warn', 'error'],
    'info',
    'One of debug, info, warn, error.',
  ),
} satisfies SettingGroup;

export type LogConfig = Values<typeof logSettings>;
