"""PyTorch eager CPU figure for the same DPO step as `npm run bench:engine` (not a product part).

Same model (the engine's llama20m preset: vocab 8192, hidden 384, MLP 1152, 8 layers, 6 query
and 2 key/value heads, untied head) as a transformers LlamaForCausalLM in float32 with SDPA
attention, same batch (8 pairs, 128 prompt + 128 response tokens per side), length-normalised
DPO (beta 5) against constant reference log-probs, and torch.optim.AdamW. Prints one JSON
line like the engine's bench; medians over the measured steps after one warm-up step.

    python tools/oracles/engine/bench_torch.py --threads 2 --steps 5
"""
import argparse
import json
import resource
import statistics
import time

import torch
import torch.nn.functional as F
from transformers import LlamaConfig, LlamaForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    cfg = LlamaConfig(vocab_size=8192, hidden_size=384, intermediate_size=1152,
                      num_hidden_layers=8, num_attention_heads=6, num_key_value_heads=2,
                      max_position_embeddings=2048, tie_word_embeddings=False,
                      rms_norm_eps=1e-5, rope_theta=10000.0)
    cfg._attn_implementation = "sdpa"
    model = LlamaForCausalLM(cfg).float().train()
    opt = torch.optim.AdamW(model.parameters(), lr=5e-7, weight_decay=0.0)

    pairs, prompt, response = 8, 128, 128
    ids = torch.randint(3, 8192, (2 * pairs, prompt + response))  # rows: c0, r0, c1, r1, ...
    ids[:, 0] = 1
    ids[1::2, :prompt] = ids[0::2, :prompt]
    loss_mask = torch.zeros_like(ids, dtype=torch.bool)
    loss_mask[:, prompt:] = True
    ref = torch.full((2 * pairs,), -9.0)

    def step():
        t = time.perf_counter()
        logits = model(input_ids=ids).logits[:, :-1].float()
        logp = torch.gather(F.log_softmax(logits, -1), 2, ids[:, 1:, None])[..., 0]
        m = loss_mask[:, 1:]
        mean = (logp * m).sum(-1) / m.sum(-1)  # length-normalised, as dpo_norm
        h = (mean[0::2] - ref[0::2]) - (mean[1::2] - ref[1::2])
        loss = -F.logsigmoid(5.0 * h).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return time.perf_counter() - t

    step()
    times = [step() for _ in range(args.steps)]
    t = statistics.median(times)
    tokens = ids.numel()
    print(json.dumps({
        "bench": "torch.dpo_step", "model": "llama20m",
        "params": sum(p.numel() for p in model.parameters()), "threads": args.threads,
        "torch": torch.__version__, "steps": args.steps, "step_s": round(t, 4),
        "tokens_per_s": round(tokens / t),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))


if __name__ == "__main__":
    main()
