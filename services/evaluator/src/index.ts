// evaluator: not written yet.
export {};
