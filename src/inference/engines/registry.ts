/**
 * The inference engines by name: `--engine` choices, the default engine and opening one
 * come from here. A new engine is one file (an EngineFactory, see engine.ts) plus one
 * `registerEngine` line below, or a call from outside (a plugin, a test).
 */
import { SegError, expectedOneOf } from '../../core/errors.js';
import type { EngineContext, EngineFactory, EngineSource, OpenedEngine } from './engine.js';
import { onnxRuntimeEngineFactory } from './onnxruntime.js';
import { tfjsEngineFactory } from './tfjs.js';

interface Registered {
  name: string;
  factory: EngineFactory;
  priority: number;
}

const engines = new Map<string, Registered>();

/**
 * Register `factory` under `name` (replacing an engine of that name). Among the engines that
 * run a source and suit the backend, the highest `priority` is the default.
 */
export function registerEngine(name: string, factory: EngineFactory, priority: number): void {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new SegError(`registerEngine: '${name}' is not a name (lower-case letters, digits, dashes)`);
  if (!Number.isFinite(priority)) throw new SegError(`registerEngine: engine '${name}' needs a finite priority, got ${priority}`);
  engines.set(name, { name, factory, priority });
}

/** Remove an engine (tests that register their own). */
export function unregisterEngine(name: string): void {
  engines.delete(name);
}

/** Registered engine names, highest priority first. */
export function engineNames(): string[] {
  return byPriority().map((e) => e.name);
}

/** The factory registered as `name`; an unknown name is a SegError naming the flag and the choices. */
export function engineFactory(name: string, flag = '--engine'): EngineFactory {
  const found = engines.get(name);
  if (found === undefined) throw expectedOneOf(flag, name, engineNames());
  return found.factory;
}

/** `name` if it is a registered engine, else the SegError of engineFactory. */
export function parseEngineName(name: string, flag = '--engine'): string {
  engineFactory(name, flag);
  return name;
}

function byPriority(): Registered[] {
  return [...engines.values()].sort((a, b) => b.priority - a.priority || a.name.localeCompare(b.name));
}

function runs(factory: EngineFactory, source: EngineSource['kind']): boolean {
  return source === 'checkpoint' ? factory.capabilities.checkpoints : factory.capabilities.onnxFiles;
}

/**
 * The engine for a source when none is asked for: the highest-priority engine that runs it
 * and suits the context (tfjs on a GPU backend, else onnxruntime when it loads, else tfjs);
 * when none suits, the highest-priority one that runs it.
 */
export async function defaultEngineName(source: EngineSource['kind'], context: EngineContext): Promise<string> {
  const candidates = byPriority().filter((e) => runs(e.factory, source));
  for (const e of candidates) if (await e.factory.suits(context)) return e.name;
  const first = candidates[0];
  if (first === undefined) throw new SegError(`no registered inference engine runs ${source === 'onnx' ? '.onnx files' : 'checkpoints'}`);
  return first.name;
}

const SOURCE_FLAG = { checkpoint: '--checkpoint DIR', onnx: '--onnx FILE' } as const;

/**
 * Open engine `name` (default: defaultEngineName) on `source`. An engine that cannot run the
 * source is a SegError naming the engines that can. A checkpoint's model is the engine's
 * from here on (see EngineFactory.open), also when this throws.
 */
export async function openEngine(source: EngineSource, context: EngineContext, name?: string): Promise<OpenedEngine> {
  const kind = name ?? (await defaultEngineName(source.kind, context));
  let factory: EngineFactory;
  try {
    factory = engineFactory(kind);
    if (!runs(factory, source.kind)) {
      const can = engineNames().filter((n) => runs(engineFactory(n), source.kind));
      const other = source.kind === 'onnx' ? 'checkpoint' : 'onnx';
      const otherEngines = engineNames().filter((n) => runs(engineFactory(n), other));
      const what = source.kind === 'onnx' ? `--onnx ${source.file}` : 'a checkpoint';
      throw new SegError(
        `${what} runs on ${can.join(' or ')}: use ${can.map((n) => `--engine ${n}`).join(' or ')}` +
          (otherEngines.includes(kind) ? `, or ${SOURCE_FLAG[other]} for --engine ${kind}` : ''),
        '--engine',
      );
    }
  } catch (err) {
    if (source.kind === 'checkpoint') source.trained.model.dispose();
    throw err;
  }
  return factory.open(source, context);
}

registerEngine('onnxruntime', onnxRuntimeEngineFactory, 20);
registerEngine('tfjs', tfjsEngineFactory, 10);
