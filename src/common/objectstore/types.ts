/** The object-store surface every backend implements. Keys are flat strings. */
export interface ByteRange {
  offset: number;
  length: number;
}

export interface CallOpts {
  signal?: AbortSignal;
}

export interface ObjectInfo {
  key: string;
  sizeBytes: number;
  mtimeMs?: number;
}

export interface ObjectStore {
  /** The object's bytes, or just `range` of them (clipped at the end). Missing -> PFS_ERR_OBJECT_MISSING. */
  get(key: string, range?: ByteRange, opts?: CallOpts): Promise<Buffer>;
  /**
   * Creates or replaces the object; durable when the promise resolves. A list of buffers is
   * written in order as one object (so a caller holding its bytes in pieces needs no copy).
   */
  put(key: string, body: Buffer | readonly Buffer[], opts?: CallOpts): Promise<void>;
  head(key: string, opts?: CallOpts): Promise<ObjectInfo>;
  /** Missing is success. */
  delete(key: string, opts?: CallOpts): Promise<void>;
  list(prefix: string, opts?: CallOpts): AsyncIterable<ObjectInfo>;
  close(): Promise<void>;
}
