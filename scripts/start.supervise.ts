/**
 * Runs `npm start`'s processes and applies the restart policy (supervisor.ts) when
 * one exits: a crashed service is started again after its backoff while the others
 * keep serving, each restart is logged with how the process ended and counted; an
 * essential process's exit or a crash loop calls `onFatal` with the reason.
 *
 * Each process gets a process group of its own (`detached`): Ctrl-C reaches only
 * `npm start`, which then stops the services before NATS so that they can drain, and
 * a signal to the group reaches whatever the process started itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { decideExit, describeExit, type ProcessRole, type RestartPolicy } from './supervisor.js';

/** One process to run and keep running. */
export interface ProcessSpec {
  /** Its name in log prefixes and the run file. */
  name: string;
  cmd: string;
  args: string[];
  /** Its environment on top of the supervisor's, by restart number (0: the first start). */
  env?: (restart: number) => NodeJS.ProcessEnv;
  role: ProcessRole;
}

export interface SupervisorOptions {
  policy: RestartPolicy;
  /** The environment every process starts from. */
  env: NodeJS.ProcessEnv;
  /** Writes one line of the supervisor's own log (`[start] ...`). */
  log: (line: string) => void;
  /** Writes one line a process printed, with its name. */
  output: (name: string, line: string) => void;
  /** The set of running processes changed (to rewrite the run file). */
  changed: () => void;
  /** Everything must stop: nats-server exited, or a crash loop. */
  onFatal: (reason: string) => void;
  now?: () => number;
}

interface Supervised {
  spec: ProcessSpec;
  child: ChildProcess | undefined;
  restarts: number;
  crashes: number[];
  timer: NodeJS.Timeout | undefined;
}

export class Supervisor {
  private readonly procs = new Map<string, Supervised>();
  private stopping = false;
  private readonly now: () => number;

  constructor(private readonly o: SupervisorOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Starts `spec` and keeps it running by the policy. */
  start(spec: ProcessSpec): ChildProcess {
    const p: Supervised = { spec, child: undefined, restarts: 0, crashes: [], timer: undefined };
    this.procs.set(spec.name, p);
    return this.run(p);
  }

  /** The running process called `name`, if any. */
  child(name: string): ChildProcess | undefined {
    return this.procs.get(name)?.child;
  }

  /** Pids of the running processes, by name. */
  pids(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, p] of this.procs) if (p.child?.pid !== undefined) out[name] = p.child.pid;
    return out;
  }

  /** Restarts so far, by name (those restarted at least once). */
  restarts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, p] of this.procs) if (p.restarts > 0) out[name] = p.restarts;
    return out;
  }

  /** From now on exits are expected: nothing is restarted, pending restarts are dropped. */
  stopRestarting(): void {
    this.stopping = true;
    for (const p of this.procs.values()) clearTimeout(p.timer);
  }

  private run(p: Supervised): ChildProcess {
    const { spec } = p;
    const child = spawn(spec.cmd, spec.args, {
      env: { ...this.o.env, ...spec.env?.(p.restarts) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => this.o.output(spec.name, line));
    }
    p.child = child;
    this.o.changed();
    child.once('error', (err) => this.o.log(`${spec.name}: ${err.message}`));
    child.once('exit', (code, signal) => {
      p.child = undefined;
      this.o.changed();
      if (!this.stopping) this.exited(p, code, signal);
    });
    return child;
  }

  private exited(p: Supervised, code: number | null, signal: NodeJS.Signals | null): void {
    const { name } = p.spec;
    const { decision, crashes } = decideExit({
      name,
      role: p.spec.role,
      code,
      signal,
      now: this.now(),
      crashes: p.crashes,
      policy: this.o.policy,
    });
    p.crashes = crashes;
    const how = describeExit(code, signal);
    switch (decision.kind) {
      case 'leave':
        this.o.log(`${name} exited with 0; the others go on`);
        return;
      case 'again':
        this.o.log(`${name} asked to be started again`);
        this.restart(p);
        return;
      case 'stop':
        this.o.log(`${decision.reason}; stopping everything`);
        this.o.onFatal(decision.reason);
        return;
      case 'restart':
        this.o.log(
          `${name} exited (${how}); restart ${p.restarts + 1} in ${decision.delayMs} ms (${decision.crashes} crash(es) within ${this.o.policy.crashLoopWindowMs} ms; ${this.o.policy.crashLoopCount} stop everything)`,
        );
        p.timer = setTimeout(() => {
          p.timer = undefined;
          if (!this.stopping) this.restart(p);
        }, decision.delayMs);
        return;
    }
  }

  private restart(p: Supervised): void {
    p.restarts++;
    const child = this.run(p);
    this.o.log(`${p.spec.name} started again (pid ${child.pid ?? '?'}, restart ${p.restarts})`);
  }
}
