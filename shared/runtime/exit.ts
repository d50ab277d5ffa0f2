/**
 * The exit codes a service ends with on purpose (from sysexits.h), in one place:
 * its supervisor (scripts/start.ts, a container runtime) reads them.
 */
export const ExitCode = {
  /** EX_TEMPFAIL: start me again (an alert service that lost its lease steps down so). */
  startAgain: 75,
  /** EX_CONFIG: this configuration cannot run (no native uWebSockets.js, a bad setting). */
  config: 78,
} as const;
