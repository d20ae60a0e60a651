/**
 * The contract between pfsagentd and proxyfsd: value types (Ino, Attr, Extent, ...), the RPC
 * method table with parameter and result types, the server -> agent upcalls (UpcallMap), and
 * object-key naming. Defined once, here.
 */
export * from './types.js';
export * from './methods.js';
export { objectKey, objectIdOf } from './object-key.js';
export { validateParams, validateUpcall } from './validate.js';
