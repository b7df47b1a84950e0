// stream: not written yet.
export {};
