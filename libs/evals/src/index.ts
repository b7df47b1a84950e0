// evals: not written yet.
export {};
