// telemetry: not written yet.
export {};
