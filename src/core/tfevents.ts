/**
 * TensorBoard event files (`events.out.tfevents.*`), scalars only, as TensorBoard's own
 * EventFileWriter writes them: a TFRecord stream of `tensorboard.Event` protobufs, each
 * record framed as
 *
 *   uint64 length (little-endian) | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)
 *
 * with masked_crc32c(x) = ((c >>> 15) | (c << 17)) + 0xa282ead8 of CRC-32C c. The first event
 * carries `file_version: "brain.Event:2"`; each scalar is `summary.value[{tag, simple_value}]`.
 * A `session_log: START` at step S makes TensorBoard drop the steps >= S written before it
 * (what a resumed run does for the steps logged after its checkpoint). Encoding is
 * protobufjs's, from the field numbers of TensorBoard's event.proto and summary.proto.
 * Files are created new (never opened over an existing one) and appended to.
 */
import { appendFileSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs/light.js';
import crc32c from 'crc-32/crc32c.js';
import { ioReason, WriteError } from './durable-files.js';

const root = protobuf.Root.fromJSON({
  nested: {
    tensorboard: {
      nested: {
        Event: {
          oneofs: { what: { oneof: ['fileVersion', 'summary', 'sessionLog'] } },
          fields: {
            wallTime: { type: 'double', id: 1 },
            step: { type: 'int64', id: 2 },
            fileVersion: { type: 'string', id: 3 },
            summary: { type: 'Summary', id: 5 },
            sessionLog: { type: 'SessionLog', id: 7 },
          },
        },
        Summary: {
          fields: { value: { rule: 'repeated', type: 'Value', id: 1 } },
          nested: {
            Value: {
              oneofs: { value: { oneof: ['simpleValue'] } },
              fields: { tag: { type: 'string', id: 1 }, simpleValue: { type: 'float', id: 2 } },
            },
          },
        },
        SessionLog: {
          fields: { status: { type: 'SessionStatus', id: 1 } },
          nested: { SessionStatus: { values: { STATUS_UNSPECIFIED: 0, START: 1, STOP: 2, CHECKPOINT: 3 } } },
        },
      },
    },
  },
});
const EVENT = root.lookupType('tensorboard.Event');

export const EVENT_FILE_VERSION = 'brain.Event:2';

/** TFRecord's masked CRC-32C. */
export function maskedCrc32c(data: Uint8Array): number {
  const c = crc32c.buf(data) >>> 0;
  return (((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0;
}

/** One TFRecord: length, its masked CRC, the data, its masked CRC. */
export function tfRecord(data: Uint8Array): Buffer {
  const header = Buffer.alloc(12);
  header.writeBigUInt64LE(BigInt(data.length), 0);
  header.writeUInt32LE(maskedCrc32c(header.subarray(0, 8)), 8);
  const footer = Buffer.alloc(4);
  footer.writeUInt32LE(maskedCrc32c(data), 0);
  return Buffer.concat([header, data, footer]);
}

export interface EventWriterOptions {
  /** Seconds since the epoch (default: the clock). */
  now?: () => number;
}

let fileCounter = 0;

/** Appends scalar events to a new `events.out.tfevents.<time>.<host>.<pid>.<n>` in `dir`. */
export class EventFileWriter {
  readonly file: string;
  private readonly now: () => number;

  constructor(dir: string, options: EventWriterOptions = {}) {
    this.now = options.now ?? (() => Date.now() / 1000);
    const seconds = Math.floor(this.now());
    this.file = join(dir, `events.out.tfevents.${String(seconds).padStart(10, '0')}.${hostname()}.${process.pid}.${fileCounter++}`);
    try {
      mkdirSync(dir, { recursive: true });
      closeSync(openSync(this.file, 'wx'));
    } catch (err) {
      throw new WriteError(this.file, ioReason(err), 'no TensorBoard events were written; check --tensorboard');
    }
    this.write({ wallTime: this.now(), fileVersion: EVENT_FILE_VERSION });
  }

  /** Scalars at `step`, one event holding every tag; non-finite values are left out. */
  scalars(step: number, values: Readonly<Record<string, number>>): void {
    const value = Object.entries(values)
      .filter(([, v]) => Number.isFinite(v))
      .map(([tag, simpleValue]) => ({ tag, simpleValue }));
    if (value.length > 0) this.write({ wallTime: this.now(), step, summary: { value } });
  }

  /** A session (re)start at `step`: TensorBoard discards the steps >= `step` written before it. */
  sessionStart(step: number): void {
    this.write({ wallTime: this.now(), step, sessionLog: { status: 1 } });
  }

  private write(event: Record<string, unknown>): void {
    const bytes = EVENT.encode(EVENT.fromObject(event)).finish();
    try {
      appendFileSync(this.file, tfRecord(bytes));
    } catch (err) {
      throw new WriteError(this.file, ioReason(err), 'the TensorBoard event file is incomplete');
    }
  }
}
