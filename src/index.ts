/** rtmpbench library API: the protocol codec, buffers, server core and load generator. */
export * from './protocol/index.js';
export * from './buffers/index.js';
