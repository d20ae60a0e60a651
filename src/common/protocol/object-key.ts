/**
 * Object keys of log segments: 16 hex digits of the object number written least-significant
 * nibble first, so consecutive numbers spread across an object store's key space.
 */
export function objectKey(objectId: number): string {
  if (!Number.isSafeInteger(objectId) || objectId < 0) throw new RangeError(`bad object id ${objectId}`);
  return objectId.toString(16).toUpperCase().padStart(16, '0').split('').reverse().join('');
}

/** The inverse of objectKey; undefined when `key` is not a log-segment key. */
export function objectIdOf(key: string): number | undefined {
  if (!/^[0-9A-F]{16}$/.test(key)) return undefined;
  const id = parseInt(key.split('').reverse().join(''), 16);
  return Number.isSafeInteger(id) ? id : undefined;
}
