// rpc: not written yet.
export {};
