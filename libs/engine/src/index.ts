// engine: not written yet.
export {};
