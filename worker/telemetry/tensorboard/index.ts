/** TensorBoard event files written without TensorFlow (TFRecord framing, hand-encoded Event protobufs). */
export { createEventFileWriter, type EventFileWriter, type EventFileWriterOptions } from './event-file-writer.js';
export { crc32c, maskedCrc32c } from './crc32c.js';
