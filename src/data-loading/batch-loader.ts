/**
 * Batch loaders. Training: an endless stream of augmented crops, shuffled per epoch, seeded,
 * resumable from `state()`. Evaluation: one pass over a split, whole images. Both decode and
 * augment ahead of the consumer (prefetch) with a fixed number of batches or samples in flight;
 * JPEG decode, resize and PNG inflate run on libuv's thread pool.
 */
import { SegError } from '../core/errors.js';
import { integer } from '../core/schema.js';
import { Rng, type RngState } from '../core/random.js';
import type { Dataset } from '../datasets/dataset.js';
import { DEFAULT_CROP, trainTransforms, type TrainAugmentOptions } from './augmenter.js';
import { IMAGENET_NORMALIZATION, normalizeImage, normalizeInto, type Normalization } from './normalize.js';
import { loadSample } from '../datasets/sample.js';
import { applyTransforms, type ImageLabelPair } from './transforms.js';
import type { AugmentedSample, Batch, LoaderState } from './types.js';

export interface TrainLoaderOptions {
  dataset: Dataset;
  /** Split list name (ImageSets/Segmentation/<split>.txt); ignored when `ids` is given. */
  split: string;
  /** Explicit ids instead of the split's list. */
  ids?: readonly string[];
  batchSize: number;
  /** Square crop side (default 513). */
  crop?: number;
  seed: number;
  /** Batches decoded ahead of the consumer (default 2). */
  prefetch?: number;
  /** Scales, flip probability, normalisation (crop comes from `crop`). */
  augment?: Omit<TrainAugmentOptions, 'crop'>;
  /** Continue exactly where a previous loader's `state()` stood. */
  resumeFrom?: LoaderState;
}

export interface TrainLoader extends AsyncIterableIterator<Batch> {
  /** Samples per epoch. */
  readonly size: number;
  readonly batchSize: number;
  readonly crop: number;
  /** The next batch (never ends). */
  nextBatch(): Promise<Batch>;
  /** Where the loader stands after the last batch handed out (pass as `resumeFrom` to continue). */
  state(): LoaderState;
  /** Stop prefetching; later calls to next() report done. */
  close(): void;
}

interface SampleTicket {
  id: string;
  seed: number;
  epoch: number;
}

interface EpochPlan {
  order: string[];
  seeds: number[];
  /** Generator state after planning: the next epoch's start. */
  next: RngState;
}

/** An epoch's order and per-sample augmentation seeds, all drawn from the epoch-start generator. */
function planEpoch(ids: readonly string[], start: RngState): EpochPlan {
  const rng = Rng.fromState(start);
  const order = rng.shuffle([...ids]);
  const seeds = order.map(() => rng.nextU32());
  return { order, seeds, next: rng.state() };
}

/** The sequence of (id, seed) tickets across epochs, with a serialisable position. */
class TicketStream {
  private epoch: number;
  private position: number;
  private epochStart: RngState;
  private plan: EpochPlan;

  constructor(
    private readonly ids: readonly string[],
    private readonly seed: number,
    state: LoaderState,
  ) {
    this.epoch = state.epoch;
    this.position = state.position;
    this.epochStart = state.rng;
    this.plan = planEpoch(ids, state.rng);
  }

  take(): SampleTicket {
    if (this.position >= this.ids.length) {
      this.epochStart = this.plan.next;
      this.plan = planEpoch(this.ids, this.epochStart);
      this.epoch += 1;
      this.position = 0;
    }
    const ticket = { id: this.plan.order[this.position] as string, seed: this.plan.seeds[this.position] as number, epoch: this.epoch };
    this.position += 1;
    return ticket;
  }

  state(): LoaderState {
    return { seed: this.seed, epoch: this.epoch, position: this.position, rng: [...this.epochStart] as RngState, samples: this.ids.length };
  }
}

/** The state a fresh loader starts from. */
export function initialLoaderState(seed: number, samples: number): LoaderState {
  return { seed, epoch: 0, position: 0, rng: new Rng(seed, 'data').state(), samples };
}

function checkResumeState(state: LoaderState, seed: number, samples: number): void {
  if (state.samples !== samples) {
    throw new SegError(
      `cannot resume the data loader: the checkpoint's split had ${state.samples} samples, this one has ${samples}; resume with the same dataset (\`data\`) and \`split\``,
    );
  }
  if (state.seed !== seed) {
    throw new SegError(`cannot resume the data loader: the checkpoint used \`seed\` ${state.seed}, not ${seed}`);
  }
  if (
    !Number.isInteger(state.position) ||
    state.position < 0 ||
    state.position > samples ||
    !Number.isInteger(state.epoch) ||
    state.epoch < 0
  ) {
    throw new SegError(`cannot resume the data loader: invalid state (epoch ${state.epoch}, position ${state.position})`);
  }
}

const positiveInt = integer({ min: 1 });

/** Keep a promise's rejection for its consumer without Node reporting it as unhandled meanwhile. */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

export function createTrainLoader(options: TrainLoaderOptions): TrainLoader {
  const { dataset, seed } = options;
  const batchSize = positiveInt(options.batchSize, 'batchSize');
  const crop = positiveInt(options.crop ?? DEFAULT_CROP, 'crop');
  const prefetch = positiveInt(options.prefetch ?? 2, 'prefetch');
  const ids = options.ids !== undefined ? [...options.ids] : dataset.listSplit(options.split);
  if (ids.length === 0) throw new SegError(`split '${options.split}' of ${dataset.root} has no samples`);
  const normalization: Normalization = options.augment?.normalization ?? IMAGENET_NORMALIZATION;
  const transforms = trainTransforms({ ...options.augment, crop });
  if (options.resumeFrom !== undefined) checkResumeState(options.resumeFrom, seed, ids.length);
  const tickets = new TicketStream(ids, seed, options.resumeFrom ?? initialLoaderState(seed, ids.length));

  const loadPair = async (ticket: SampleTicket): Promise<ImageLabelPair> => {
    const sample = await loadSample(dataset, ticket.id);
    return applyTransforms(transforms, sample, new Rng(ticket.seed, 'augment'));
  };

  const buildBatch = async (batch: SampleTicket[]): Promise<Batch> => {
    const pairs = await Promise.all(batch.map(loadPair));
    const pixels = crop * crop;
    const images = new Float32Array(batch.length * pixels * 3);
    const labels = new Int32Array(batch.length * pixels);
    pairs.forEach((pair, n) => {
      normalizeInto(pair.image, images, n * pixels * 3, normalization);
      labels.set(pair.label, n * pixels);
    });
    return { images, labels, shape: [batch.length, crop, crop], ids: batch.map((t) => t.id), epoch: (batch[0] as SampleTicket).epoch };
  };

  const queue: { batch: Promise<Batch>; after: LoaderState }[] = [];
  let consumed = tickets.state();
  let closed = false;

  const fill = (): void => {
    while (!closed && queue.length < prefetch) {
      const batch = Array.from({ length: batchSize }, () => tickets.take());
      queue.push({ batch: quiet(buildBatch(batch)), after: tickets.state() });
    }
  };

  const close = (): void => {
    closed = true;
    queue.length = 0;
  };

  const nextBatch = async (): Promise<Batch> => {
    if (closed) throw new Error('the train loader is closed');
    fill();
    const entry = queue.shift() as { batch: Promise<Batch>; after: LoaderState };
    fill();
    try {
      const batch = await entry.batch;
      consumed = entry.after;
      return batch;
    } catch (err) {
      close();
      throw err;
    }
  };

  const loader: TrainLoader = {
    size: ids.length,
    batchSize,
    crop,
    nextBatch,
    state: () => ({ ...consumed, rng: [...consumed.rng] as RngState }),
    close,
    async next(): Promise<IteratorResult<Batch>> {
      if (closed) return { done: true, value: undefined };
      return { done: false, value: await nextBatch() };
    },
    async return(): Promise<IteratorResult<Batch>> {
      close();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return loader;
    },
  };
  return loader;
}

/** An evaluation sample: normalised image, untouched label, and the original RGB bytes. */
export interface EvalSample extends AugmentedSample {
  /** HxWx3 RGB bytes as decoded. */
  rgb: Uint8Array;
}

export interface EvalLoaderOptions {
  dataset: Dataset;
  split: string;
  ids?: readonly string[];
  /** Samples decoded ahead of the consumer (default 4). */
  prefetch?: number;
  /** Only the first `limit` ids of the list. */
  limit?: number;
  normalization?: Normalization;
}

export interface EvalLoader extends AsyncIterableIterator<EvalSample> {
  /** Samples in the pass. */
  readonly size: number;
  readonly ids: readonly string[];
  close(): void;
}

/** One pass over a split in list order: whole images, normalised; labels untouched. */
export function createEvalLoader(options: EvalLoaderOptions): EvalLoader {
  const { dataset } = options;
  const prefetch = positiveInt(options.prefetch ?? 4, 'prefetch');
  let ids = options.ids !== undefined ? [...options.ids] : dataset.listSplit(options.split);
  if (options.limit !== undefined) ids = ids.slice(0, positiveInt(options.limit, 'limit'));
  const normalization = options.normalization ?? IMAGENET_NORMALIZATION;

  const load = async (id: string): Promise<EvalSample> => {
    const s = await loadSample(dataset, id);
    return { id, width: s.width, height: s.height, image: normalizeImage(s.image, normalization), label: s.label, rgb: s.image };
  };

  const queue: Promise<EvalSample>[] = [];
  let scheduled = 0;
  let closed = false;
  const fill = (): void => {
    while (!closed && queue.length < prefetch && scheduled < ids.length) queue.push(quiet(load(ids[scheduled++] as string)));
  };
  const close = (): void => {
    closed = true;
    queue.length = 0;
  };

  const loader: EvalLoader = {
    size: ids.length,
    ids,
    close,
    async next(): Promise<IteratorResult<EvalSample>> {
      fill();
      const head = queue.shift();
      if (head === undefined) return { done: true, value: undefined };
      fill();
      try {
        return { done: false, value: await head };
      } catch (err) {
        close();
        throw err;
      }
    },
    async return(): Promise<IteratorResult<EvalSample>> {
      close();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return loader;
    },
  };
  return loader;
}
