// trainer: not written yet.
export {};
