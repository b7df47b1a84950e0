// Splits outputs into sends small enough for the broker: Kafka refuses a record batch above
// message.max.bytes (1 MiB by default), and one send puts a partition's records in one batch.
// Sizes are estimated from the strings a record holds, not by encoding it twice.
import type { Output } from '@delta/stream';

/** Bytes a send may carry by this estimate; half the broker's default limit, for headroom. */
export const SEND_BYTES = 512 * 1024;

/** A rough size of a record value: its strings' UTF-8 bytes plus a little per field. */
export function estimateBytes(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value) + 4;
  if (value === null || typeof value !== 'object') return 10;
  if (ArrayBuffer.isView(value)) return value.byteLength + 4;
  let bytes = 4;
  for (const item of Array.isArray(value) ? value : Object.values(value)) {
    bytes += estimateBytes(item);
  }
  return bytes;
}

/** The same records, cut into outputs of about `maxBytes` at most each, in order. */
export function splitBySize(outputs: readonly Output[], maxBytes = SEND_BYTES): Output[] {
  const out: Output[] = [];
  for (const { topic, records } of outputs) {
    let start = 0;
    let bytes = 0;
    records.forEach((record, i) => {
      const size = estimateBytes(record.value) + record.key.length + 64;
      if (i > start && bytes + size > maxBytes) {
        out.push({ topic, records: records.slice(start, i) });
        start = i;
        bytes = 0;
      }
      bytes += size;
    });
    if (records.length > start) out.push({ topic, records: records.slice(start) });
  }
  return out;
}
