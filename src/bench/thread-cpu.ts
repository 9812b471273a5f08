/**
 * On-CPU time of this process's main thread, for host-cost figures: unlike wall time it does
 * not count time spent waiting for a busy core, nor Dawn's or the driver's own threads. From
 * /proc/self/task/<pid>/schedstat on Linux; elsewhere the process's CPU time (all threads).
 */
import { readFileSync } from 'node:fs';

const SCHEDSTAT = `/proc/self/task/${process.pid}/schedstat`;

function readSchedstat(): number | undefined {
  try {
    return Number(readFileSync(SCHEDSTAT, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return undefined;
  }
}

/** Whether mainThreadCpuMs measures the main thread alone (Linux) or the whole process. */
export const MAIN_THREAD_CPU_EXACT = readSchedstat() !== undefined;

/** Milliseconds of CPU the main thread has used (see the module comment). */
export function mainThreadCpuMs(): number {
  const ms = MAIN_THREAD_CPU_EXACT ? readSchedstat() : undefined;
  if (ms !== undefined) return ms;
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}
