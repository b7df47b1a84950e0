// Long-running jobs: one start/watch/get/cancel pattern for every service, saved to a store so a
// restarted instance resumes its jobs.
export * from './kinds.js';
export * from './manager.js';
export * from './kafka-store.js';
export * from './store.js';
