/**
 * How the trainer runs its steps. Eagerly everywhere (train-step.ts); on webgpu, by default,
 * as a captured step: the first steps of a batch shape run through tfjs as usual while
 * engine/step-recorder.ts records what they issue, and every later step of that shape is a
 * replay (engine/step-replay.ts): write the batch, the learning rate and dropout's noise into
 * the step's own input buffers, submit the pre-built dispatches, read the loss.
 *
 * - Step 1 of a shape runs eagerly (pipelines compile, lazily made constants appear); steps 2
 *   and 3 are recorded; if they issued the same work (only the inputs differ), step 4 on is
 *   replayed from step 3's recording. If they differ, something that changes per step went to
 *   the GPU another way than the inputs: the shape stays eager, and the runner says why.
 * - State stays in its buffers: SGD and batch norm update in place on webgpu
 *   (engine/in-place-update.ts), so weights, momentum and running statistics carry from one
 *   replay to the next, and eager work between replays (evaluation, checkpoint saves, the
 *   NaN-weight check) reads the current values. A resume or anything else that gives a
 *   variable a new buffer invalidates the replay; the next steps record again.
 * - Other shapes (a second crop size) run eagerly; so does everything with `capture` off.
 * Replayed and eager steps give bit-identical results (tested on lavapipe).
 */
import { tf } from '../engine/tf.js';
import { BufferUsage, type GpuBuffer } from '../engine/gpu-types.js';
import { recordGpuWork, type RecordedOp, type Recording } from '../engine/step-recorder.js';
import { StepReplay } from '../engine/step-replay.js';
import { dropCpuCopy, flushTfjs, tensorBuffer, webgpuInternals, type WebgpuBackendInternals } from '../engine/webgpu-internals.js';
import { dropoutNoise } from '../nn/dropout-noise.js';
import type { Rng } from '../core/random.js';
import type { Head } from '../heads/head.js';
import type { SegmentationModel } from '../segmentation/model.js';
import type { Batch } from '../data-loading/types.js';
import type { MomentumSgd } from './sgd.js';
import { issueTrainStep, stepResult, trainStep, type StepOptions, type StepResult, type StepTensors } from './train-step.js';

/** What the runner tells its caller once per event: a shape captured, or left eager and why. */
export interface CaptureNote {
  mode: 'replay' | 'eager';
  /** The batch shape [N, H, W]. */
  shape: [number, number, number];
  /** Why the shape runs eagerly. */
  reason?: string;
}

/** One line for the log: "capture: ..." */
export function describeCaptureNote(note: CaptureNote): string {
  const shape = note.shape.join('x');
  return note.mode === 'replay'
    ? `capture: training steps of batch shape ${shape} are replayed from a captured step (webgpu; --no-capture runs them eagerly)`
    : `capture: training steps of batch shape ${shape} run eagerly: ${note.reason ?? 'capture is off'}`;
}

/** A step's result, with the capture note of the step that captured its shape or left it eager. */
export interface RunnerStepResult extends StepResult {
  capture?: CaptureNote;
}

export interface StepRunner {
  /** One step; `onIssued` is called once its work is submitted, before its result is read. */
  run(batch: Batch, options: StepOptions, onIssued?: () => void): Promise<RunnerStepResult>;
  /** How the last step ran: 'eager', 'recorded' (eager, recorded) or 'replayed'. */
  readonly lastStep: 'eager' | 'recorded' | 'replayed' | undefined;
  /** Dispatches of one replayed step (undefined until a shape is captured). */
  readonly dispatchesPerStep: number | undefined;
  /** The current replay, for profiling (engine/step-replay.ts). */
  readonly replay: StepReplay | undefined;
  /**
   * Whether a step may be started before the last one's result is read (replays: the host
   * encodes the next while the GPU runs this one). Eager steps finish inside `run`.
   */
  readonly overlapping: boolean;
  dispose(): void;
}

export interface StepRunnerOptions {
  /** Capture and replay steps on webgpu (default true); ignored on other backends. */
  capture?: boolean;
  onNote?: (note: CaptureNote) => void;
}

/** The runner for the active backend: capturing on webgpu unless `capture` is false. */
export function createStepRunner(model: SegmentationModel, head: Head, sgd: MomentumSgd, options: StepRunnerOptions = {}): StepRunner {
  const backend = options.capture === false ? undefined : webgpuInternals();
  if (backend === undefined) return new EagerRunner(model, head, sgd);
  return new CapturingRunner(backend, model, head, sgd, options.onNote ?? (() => undefined));
}

class EagerRunner implements StepRunner {
  lastStep: StepRunner['lastStep'];
  readonly overlapping = false;
  readonly dispatchesPerStep = undefined;
  readonly replay = undefined;

  constructor(
    private readonly model: SegmentationModel,
    private readonly head: Head,
    private readonly sgd: MomentumSgd,
  ) {}

  async run(batch: Batch, options: StepOptions, onIssued?: () => void): Promise<StepResult> {
    this.lastStep = 'eager';
    return trainStep(this.model, this.head, this.sgd, batch, options, onIssued);
  }

  dispose(): void {}
}

/** One input of the captured step: a buffer of the runner's own, seen by tfjs as a tensor. */
interface Feed {
  buffer: GpuBuffer;
  tensor: tf.Tensor;
}

function disposeFeed(backend: WebgpuBackendInternals, f: Feed): void {
  f.tensor.dispose();
  // Submitted work may still read it; work queued later runs after that.
  flushTfjs(backend);
  f.buffer.destroy();
}

function shapeKey(batch: Batch, options: StepOptions): string {
  return `${batch.shape.join('x')}|bn:${options.freezeBn ? 'frozen' : 'train'}|clip:${options.clipGradNorm ?? '-'}|dropout:${options.dropoutRng !== undefined}|aux:${options.auxLoss ?? '-'}`;
}

/** Why two recordings of consecutive steps are not the same work, or undefined if they are. */
export function differenceBetween(a: Recording, b: Recording): string | undefined {
  if (a.ops.length !== b.ops.length) return `the steps issued ${a.ops.length} and ${b.ops.length} operations`;
  const same = (x: Uint8Array | undefined, y: Uint8Array | undefined): boolean =>
    x === y || (x !== undefined && y !== undefined && x.length === y.length && x.every((v, i) => v === y[i]));
  for (let i = 0; i < a.ops.length; i++) {
    const x = a.ops[i] as RecordedOp;
    const y = b.ops[i] as RecordedOp;
    const at = `operation ${i + 1} of ${a.ops.length}`;
    if (x.kind !== y.kind) return `${at} is a ${x.kind} in one step and a ${y.kind} in the next`;
    if (x.kind === 'dispatch' && y.kind === 'dispatch') {
      if (x.pipeline !== y.pipeline || x.workgroups.join() !== y.workgroups.join()) return `${at} runs another kernel or size`;
      if (x.bindings.length !== y.bindings.length) return `${at} binds another number of buffers`;
      for (let j = 0; j < x.bindings.length; j++) {
        const bx = x.bindings[j];
        const by = y.bindings[j];
        if (bx?.binding !== by?.binding || bx?.offset !== by?.offset || bx?.size !== by?.size || !same(bx?.uniform, by?.uniform)) {
          return `${at} has other uniform values (a number that changes per step is passed as a constant)`;
        }
      }
    } else if (x.kind === 'upload' && y.kind === 'upload') {
      if (x.dstOffset !== y.dstOffset || !same(x.data, y.data))
        return `${at} uploads other data (a value that changes per step is uploaded as a constant)`;
    } else if (x.kind === 'copy' && y.kind === 'copy') {
      if (x.srcOffset !== y.srcOffset || x.dstOffset !== y.dstOffset || x.size !== y.size) return `${at} copies another range`;
    }
  }
  return undefined;
}

type Phase = 'warm-up' | 'record' | 'replay' | 'eager';

class CapturingRunner implements StepRunner {
  lastStep: StepRunner['lastStep'];
  readonly overlapping = true;
  private key: string | undefined;
  private phase: Phase = 'warm-up';
  private feeds: { images: Feed; labels: Feed; lr: Feed; noise: Feed[] } | undefined;
  private previous: Recording | undefined;
  private current: StepReplay | undefined;
  private trackedPerStep = 0;
  private readonly notedShapes = new Set<string>();

  constructor(
    private readonly backend: WebgpuBackendInternals,
    private readonly model: SegmentationModel,
    private readonly head: Head,
    private readonly sgd: MomentumSgd,
    private readonly onNote: (note: CaptureNote) => void,
  ) {}

  get dispatchesPerStep(): number | undefined {
    return this.current?.dispatches;
  }

  get replay(): StepReplay | undefined {
    return this.current;
  }

  async run(batch: Batch, options: StepOptions, onIssued?: () => void): Promise<RunnerStepResult> {
    const key = shapeKey(batch, options);
    this.key ??= key;
    if (key !== this.key) {
      const note = this.noteOnce(key, {
        mode: 'eager',
        shape: batch.shape,
        reason: `another batch shape or setting than the captured one (${this.key.split('|')[0]})`,
      });
      const result = await this.eager(batch, options, onIssued);
      return note !== undefined ? { ...result, capture: note } : result;
    }
    if (this.current !== undefined && !this.current.valid) {
      // State moved to new buffers (a resume, a variable assigned): record the shape again.
      this.current.dispose();
      this.current = undefined;
      this.previous = undefined;
      this.phase = 'record';
    }
    switch (this.phase) {
      case 'eager':
        return this.eager(batch, options, onIssued);
      case 'warm-up':
        this.phase = 'record';
        return this.eager(batch, options, onIssued);
      case 'record':
        return this.record(batch, options, onIssued);
      case 'replay':
        return this.replayStep(batch, options, onIssued);
    }
  }

  private async eager(batch: Batch, options: StepOptions, onIssued?: () => void): Promise<StepResult> {
    this.lastStep = 'eager';
    return trainStep(this.model, this.head, this.sgd, batch, options, onIssued);
  }

  /** Tells the caller once per shape; returns the note when it was new. */
  private noteOnce(key: string, note: CaptureNote): CaptureNote | undefined {
    if (this.notedShapes.has(key)) return undefined;
    this.notedShapes.add(key);
    this.onNote(note);
    return note;
  }

  private feed(shape: number[], dtype: 'float32' | 'int32'): Feed {
    const bytes = Math.max(4, shape.reduce((a, b) => a * b, 1) * 4);
    const buffer = this.backend.device.createBuffer({
      size: bytes,
      usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST,
    });
    const data = { buffer, zeroCopy: true } as unknown as Parameters<typeof tf.tensor>[0];
    // Kept: noise feeds are made inside the step's tf.tidy and must outlive it.
    return { buffer, tensor: tf.keep(tf.tensor(data, shape, dtype)) };
  }

  private feedsFor(batch: Batch): NonNullable<CapturingRunner['feeds']> {
    if (this.feeds === undefined) {
      const [n, h, w] = batch.shape;
      this.feeds = {
        images: this.feed([n, h, w, 3], 'float32'),
        labels: this.feed([n, h, w], 'int32'),
        lr: this.feed([], 'float32'),
        noise: [],
      };
    }
    return this.feeds;
  }

  private writeInputs(batch: Batch, lr: number): NonNullable<CapturingRunner['feeds']> {
    const feeds = this.feedsFor(batch);
    const queue = this.backend.device.queue;
    queue.writeBuffer(feeds.images.buffer, 0, batch.images);
    queue.writeBuffer(feeds.labels.buffer, 0, batch.labels);
    queue.writeBuffer(feeds.lr.buffer, 0, new Float32Array([lr]));
    return feeds;
  }

  private async record(batch: Batch, options: StepOptions, onIssued?: () => void): Promise<RunnerStepResult> {
    const feeds = this.writeInputs(batch, options.lr);
    const inputs: StepTensors = {
      images: feeds.images.tensor as tf.Tensor4D,
      labels: feeds.labels.tensor as tf.Tensor3D,
      lr: feeds.lr.tensor as tf.Scalar,
    };
    let slot = 0;
    const noise = (shape: readonly number[], rng: Rng): tf.Tensor => {
      const size = shape.reduce((a, b) => a * b, 1);
      const existing = feeds.noise[slot];
      let f = existing;
      if (f === undefined || f.tensor.shape.join() !== shape.join()) {
        if (f !== undefined) disposeFeed(this.backend, f);
        f = this.feed([...shape], 'float32');
        feeds.noise[slot] = f;
      }
      slot += 1;
      this.backend.device.queue.writeBuffer(f.buffer, 0, dropoutNoise(size, rng.nextU32()));
      return f.tensor;
    };
    const isInput = (b: GpuBuffer): boolean =>
      b === feeds.images.buffer || b === feeds.labels.buffer || b === feeds.lr.buffer || feeds.noise.some((f) => f.buffer === b);
    flushTfjs(this.backend);
    const tracked = this.model.batchesTracked;
    const { result: summary, recording } = recordGpuWork(this.backend.device, isInput, () =>
      issueTrainStep(this.model, this.head, this.sgd, inputs, {
        freezeBn: options.freezeBn,
        ...(options.dropoutRng !== undefined ? { dropoutRng: options.dropoutRng, dropoutNoise: noise } : {}),
        ...(options.clipGradNorm !== undefined ? { clipGradNorm: options.clipGradNorm } : {}),
        ...(options.auxLoss !== undefined ? { auxLoss: options.auxLoss } : {}),
      }),
    );
    for (const extra of feeds.noise.splice(slot)) disposeFeed(this.backend, extra);
    this.trackedPerStep = this.model.batchesTracked - tracked;
    this.lastStep = 'recorded';
    onIssued?.();
    let values: Float32Array;
    let resultBuffer: GpuBuffer | undefined;
    try {
      values = (await summary.data()) as Float32Array;
      resultBuffer = tensorBuffer(this.backend, summary);
    } finally {
      summary.dispose();
      flushTfjs(this.backend);
    }
    const previous = this.previous;
    this.previous = recording;
    const note = previous !== undefined ? this.build(batch, previous, recording, resultBuffer, values.byteLength, feeds) : undefined;
    return note !== undefined ? { ...stepResult(values), capture: note } : stepResult(values);
  }

  private build(
    batch: Batch,
    previous: Recording,
    recording: Recording,
    resultBuffer: GpuBuffer | undefined,
    resultBytes: number,
    feeds: NonNullable<CapturingRunner['feeds']>,
  ): CaptureNote | undefined {
    const why =
      recording.unreplayable ??
      differenceBetween(previous, recording) ??
      (resultBuffer === undefined ? 'the step\u2019s result is not in a GPU buffer' : undefined);
    const built =
      why ??
      StepReplay.build({
        recording,
        backend: this.backend,
        external: new Set([feeds.images.buffer, feeds.labels.buffer, feeds.lr.buffer, ...feeds.noise.map((f) => f.buffer)]),
        result: { buffer: resultBuffer as GpuBuffer, bytes: resultBytes },
      });
    this.previous = undefined;
    if (typeof built === 'string') {
      this.phase = 'eager';
      return this.noteOnce(this.key as string, { mode: 'eager', shape: batch.shape, reason: built });
    }
    this.current = built;
    this.phase = 'replay';
    return this.noteOnce(this.key as string, { mode: 'replay', shape: batch.shape });
  }

  private async replayStep(batch: Batch, options: StepOptions, onIssued?: () => void): Promise<StepResult> {
    const replay = this.current as StepReplay;
    const feeds = this.writeInputs(batch, options.lr);
    const rng = options.dropoutRng;
    for (const f of feeds.noise) {
      if (rng === undefined) break;
      this.backend.device.queue.writeBuffer(f.buffer, 0, dropoutNoise(f.tensor.size, rng.nextU32()));
    }
    this.model.batchesTracked += this.trackedPerStep;
    this.lastStep = 'replayed';
    const values = await replay.run(onIssued);
    this.forgetCpuCopies();
    return stepResult(values);
  }

  /** Values tfjs cached on a read (a checkpoint save) are stale once a replay updated the state. */
  private forgetCpuCopies(): void {
    for (const group of [this.model.params, this.model.buffers, this.sgd.velocity]) {
      for (const t of group.values()) dropCpuCopy(this.backend, t);
    }
  }

  dispose(): void {
    this.current?.dispose();
    this.current = undefined;
    if (this.feeds !== undefined) {
      for (const f of [this.feeds.images, this.feeds.labels, this.feeds.lr, ...this.feeds.noise]) disposeFeed(this.backend, f);
      this.feeds = undefined;
    }
  }
}
