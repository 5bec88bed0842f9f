/**
 * Appends TensorBoard events to one `events.out.tfevents.*` file in a log
 * directory, as TFRecords (tfrecord.ts), on every backend: this is plain
 * Node, no TensorFlow summary op involved.
 *
 * Writes are synchronous and unbuffered on purpose: a record is a few dozen
 * bytes and a training step takes milliseconds or more, so writing each one at
 * once costs nothing measurable, keeps records in order without a queue, and
 * lets TensorBoard (which tails the file) show a step as soon as it is taken.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { wrapError } from '../../../common/errors.js';
import { encodeEvent, type EventBody } from './event-proto.js';
import { frameRecord } from './tfrecord.js';

/** Options of {@link createEventFileWriter}. */
export interface EventFileWriterOptions {
  /** Wall clock in milliseconds since the epoch (tests fix it). @default Date.now */
  readonly now?: () => number;
}

/** An open event file. */
export interface EventFileWriter {
  /** The file being written. */
  readonly path: string;
  /** Scalars of one step, as one event (tag → value; stored as float32). */
  addScalars(step: number, values: Readonly<Record<string, number>>): void;
  /** A text summary (rendered as Markdown by TensorBoard's text plugin). */
  addText(tag: string, text: string, step: number): void;
  /** Closes the file; idempotent. */
  close(): void;
}

/**
 * Creates `logDir` if needed and opens a new event file in it, named as
 * TensorFlow names them (TensorBoard only reads files containing "tfevents"),
 * and writes the file-version event.
 */
export function createEventFileWriter(logDir: string, opts: EventFileWriterOptions = {}): EventFileWriter {
  const now = opts.now ?? Date.now;
  const path = join(logDir, `events.out.tfevents.${Math.floor(now() / 1000)}.${hostname()}.${process.pid}.v2`);
  let fd: number | undefined;
  try {
    mkdirSync(logDir, { recursive: true });
    // 'a': a second writer in the same second and process appends instead of truncating.
    fd = openSync(path, 'a');
  } catch (err) {
    throw wrapError(`failed to open TensorBoard event file ${path}`, err);
  }
  const append = (step: number, body: EventBody): void => {
    if (fd === undefined) throw new Error(`TensorBoard event file ${path} is closed`);
    const record = frameRecord(encodeEvent(now() / 1000, step, body));
    try {
      writeSync(fd, record);
    } catch (err) {
      throw wrapError(`failed to write TensorBoard event file ${path}`, err);
    }
  };
  append(0, { kind: 'fileVersion' });
  return {
    path,
    addScalars: (step, values) => append(step, { kind: 'scalars', values: Object.entries(values) }),
    addText: (tag, text, step) => append(step, { kind: 'text', tag, text }),
    close: () => {
      if (fd === undefined) return;
      closeSync(fd);
      fd = undefined;
    },
  };
}
