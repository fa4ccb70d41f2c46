/**
 * Packing for the N-API crossing: many envelopes become one Buffer plus (start, length) pairs,
 * and their subjects a table plus an index per envelope, so a batch crosses in one call.
 */
export interface PackedBytes {
  readonly data: Buffer;
  /** (start, length) per chunk. */
  readonly offsets: Uint32Array;
}

export function packBytes(chunks: readonly Uint8Array[]): PackedBytes {
  const offsets = new Uint32Array(chunks.length * 2);
  let at = 0;
  for (let i = 0; i < chunks.length; i++) {
    const length = chunks[i]!.byteLength;
    offsets[2 * i] = at;
    offsets[2 * i + 1] = length;
    at += length;
  }
  return { data: Buffer.concat(chunks as Uint8Array[], at), offsets };
}

export interface IndexedSubjects {
  /** Each distinct subject once. */
  readonly subjects: string[];
  /** Per envelope, its subject's position in `subjects`. */
  readonly subjectIndex: Uint32Array;
}

export function indexSubjects(perEnvelope: readonly string[]): IndexedSubjects {
  const positions = new Map<string, number>();
  const subjectIndex = new Uint32Array(perEnvelope.length);
  for (let i = 0; i < perEnvelope.length; i++) {
    const subject = perEnvelope[i]!;
    let index = positions.get(subject);
    if (index === undefined) {
      index = positions.size;
      positions.set(subject, index);
    }
    subjectIndex[i] = index;
  }
  return { subjects: [...positions.keys()], subjectIndex };
}
