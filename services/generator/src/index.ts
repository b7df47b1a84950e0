// generator: not written yet.
export {};
