// lm: not written yet.
export {};
