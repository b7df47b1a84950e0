// cli: not written yet.
export {};
