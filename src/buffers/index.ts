export * from './buffer-pool.js';
export * from './ring-queue.js';
