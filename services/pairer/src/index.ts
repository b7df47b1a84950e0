// pairer: not written yet.
export {};
