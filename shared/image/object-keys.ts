/** Object keys fan out by the id's first bytes so no prefix grows without bound. */
function fanOut(id: string): string {
  return `${id.slice(0, 2)}/${id.slice(2, 4)}`;
}

export function originalKey(id: string, extension: string): string {
  return `originals/${fanOut(id)}/${id}.${extension}`;
}

export function renditionKey(id: string, name: string, extension: string): string {
  return `renditions/${fanOut(id)}/${id}/${name}.${extension}`;
}

/**
 * What processing this image under one policy produced (metadata, renditions), written after the
 * renditions: the same bytes again under the same policy reuse it instead of decoding again.
 */
export function manifestKey(id: string, policyHash: string): string {
  return `renditions/${fanOut(id)}/${id}/manifest-${policyHash}.json`;
}

/** Every object of an image has a key under one of these: its original (whatever its extension) and its renditions' folder. */
export function imageKeyPrefixes(id: string): string[] {
  return [`originals/${fanOut(id)}/${id}.`, `renditions/${fanOut(id)}/${id}/`];
}

/**
 * The audit record of an erased image (who, when, why; no image data), kept in the primary store.
 * It also tells the replicator and the scrub that a missing original was erased, not lost.
 */
export function erasureRecordKey(id: string): string {
  return `system/erasures/${fanOut(id)}/${id}.json`;
}
