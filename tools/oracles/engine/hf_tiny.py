"""Golden values for the engine from Hugging Face transformers (PyTorch, float32, eager).

Builds three tiny random decoders that together cover the supported features, saves them
as test fixtures the way Hugging Face does, and records what transformers computes on them:
  llama3   Llama with llama3 RoPE scaling, GQA, attention and MLP biases, untied head
  qwen2    Qwen2 with q/k/v biases and tied embeddings, saved in bfloat16
  mistral  Mistral with a sliding window shorter than the inputs, saved as shards
Goldens: logits for a batch with left padding (valid positions), summed response log-probs
of preference pairs, and for each DPO-family loss its value, the gradient norm and two
gradient tensors, written with the formulas cited in native/core/loss.h.

Run once from the repository root with torch and transformers installed:
    python tools/oracles/engine/hf_tiny.py libs/engine/test
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F
from transformers import (LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM,
                          Qwen2Config, Qwen2ForCausalLM)

SHAPE = dict(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
             num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5,
             max_position_embeddings=64, bos_token_id=1, eos_token_id=2)


def build(name):
    if name == "llama3":
        cfg = LlamaConfig(**SHAPE, attention_bias=True, mlp_bias=True, tie_word_embeddings=False,
                          rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                        "high_freq_factor": 4.0,
                                        "original_max_position_embeddings": 16},
                          rope_theta=500000.0)
        cls = LlamaForCausalLM
    elif name == "qwen2":
        cfg = Qwen2Config(**SHAPE, tie_word_embeddings=True)
        cls = Qwen2ForCausalLM
    else:
        cfg = MistralConfig(**SHAPE, sliding_window=4, tie_word_embeddings=False)
        cls = MistralForCausalLM
    cfg._attn_implementation = "eager"
    torch.manual_seed({"llama3": 1, "qwen2": 2, "mistral": 3}[name])
    model = cls(cfg).float()
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if "norm" in pname:
                p.copy_(1 + 0.3 * torch.randn_like(p))
            else:
                p.copy_(0.3 * torch.randn_like(p))
    return model


BATCH = [[0, 0, 0, 1, 17, 23, 5, 88, 41, 9], [1, 4, 60, 61, 62, 3, 3, 90, 12, 50]]
MASK = [[0, 0, 0, 1, 1, 1, 1, 1, 1, 1], [1] * 10]
PAIRS = [
    {"prompt": [1, 17, 23], "chosen": [5, 88, 41, 9], "rejected": [70, 2]},
    {"prompt": [1, 4, 60, 61], "chosen": [62, 3], "rejected": [3, 90, 12, 50, 7]},
]
REF_OFFSET = [[0.7, -1.1], [-0.4, 0.9]]  # reference = policy sum - offset, per pair and side
LOSSES = {
    "sigmoid": dict(beta=0.5, label_smoothing=0.0, nll_alpha=0.0),
    "dpo_norm": dict(beta=5.0, label_smoothing=0.0, nll_alpha=0.0),
    "cdpo": dict(type="sigmoid", beta=0.5, label_smoothing=0.2, nll_alpha=0.0),
    "robust": dict(beta=0.5, label_smoothing=0.2, nll_alpha=0.0),
    "ipo": dict(beta=0.5, label_smoothing=0.0, nll_alpha=0.0),
    "hinge": dict(beta=0.5, label_smoothing=0.0, nll_alpha=0.0),
    "simpo": dict(beta=2.0, label_smoothing=0.0, nll_alpha=0.0, simpo_gamma=0.5),
    "rpo": dict(type="sigmoid", beta=0.5, label_smoothing=0.0, nll_alpha=0.3),
}


def response_logps(model, prompt, response):
    ids = torch.tensor([prompt + response])
    logits = model(input_ids=ids).logits[0].float()
    logp = F.log_softmax(logits[:-1], dim=-1)
    tgt = ids[0, 1:]
    tok = logp.gather(1, tgt[:, None])[:, 0]
    return tok[len(prompt) - 1:].sum(), len(response)


def loss_value(kind, spec, pc, pr, nc, nr, rc, rr):
    t = spec.get("type", kind)
    beta, e = spec["beta"], spec["label_smoothing"]
    mean = t in ("dpo_norm", "ipo", "simpo")
    lc = pc / nc if mean else pc
    lr = pr / nr if mean else pr
    if t != "simpo":
        lc = lc - (rc / nc if mean else rc)
        lr = lr - (rr / nr if mean else rr)
    h = lc - lr
    if t in ("sigmoid", "dpo_norm"):
        return -(1 - e) * F.logsigmoid(beta * h) - e * F.logsigmoid(-beta * h)
    if t == "robust":  # Chowdhury et al. 2024
        return ((1 - e) * -F.logsigmoid(beta * h) + e * F.logsigmoid(-beta * h)) / (1 - 2 * e)
    if t == "ipo":  # Azar et al. 2023
        return (h - 1 / (2 * beta)) ** 2
    if t == "hinge":
        return torch.relu(1 - beta * h)
    if t == "simpo":  # Meng et al. 2024
        z = beta * h - spec["simpo_gamma"]
        return -(1 - e) * F.logsigmoid(z) - e * F.logsigmoid(-z)
    raise ValueError(t)


def goldens(name, model):
    out = {}
    with torch.no_grad():
        ids = torch.tensor(BATCH)
        mask = torch.tensor(MASK)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        logits = model(input_ids=ids, attention_mask=mask, position_ids=pos).logits
        out["logits"] = [[logits[b, t].tolist() if MASK[b][t] else None for t in range(10)]
                         for b in range(2)]

    sums = []
    with torch.no_grad():
        for p in PAIRS:
            sums.append([float(response_logps(model, p["prompt"], p[s])[0])
                         for s in ("chosen", "rejected")])
    out["pair_logps"] = sums
    ref = [[sums[i][j] - REF_OFFSET[i][j] for j in range(2)] for i in range(2)]
    out["reference"] = ref

    out["losses"] = {}
    for kind, spec in LOSSES.items():
        model.zero_grad()
        total = 0
        chosen_sum, chosen_tokens = 0, 0
        for i, p in enumerate(PAIRS):
            pc, nc = response_logps(model, p["prompt"], p["chosen"])
            pr, nr = response_logps(model, p["prompt"], p["rejected"])
            total = total + loss_value(kind, spec, pc, pr, nc, nr, ref[i][0], ref[i][1]) / len(PAIRS)
            chosen_sum, chosen_tokens = chosen_sum + pc, chosen_tokens + nc
        if spec["nll_alpha"] > 0:
            total = total + spec["nll_alpha"] * (-chosen_sum / chosen_tokens)
        total.backward()
        norm = math.sqrt(sum(float((p.grad.double() ** 2).sum())
                             for p in model.parameters() if p.grad is not None))
        grads = dict(model.named_parameters())
        out["losses"][kind] = {
            "config": {"type": spec.get("type", kind), "beta": spec["beta"],
                       "labelSmoothing": spec["label_smoothing"], "nllAlpha": spec["nll_alpha"],
                       "simpoGamma": spec.get("simpo_gamma", 0.0)},
            "loss": float(total.detach()),
            "grad_norm": norm,
            "grad": {n: grads[n].grad.flatten().tolist() for n in
                     ("model.layers.0.self_attn.k_proj.weight", "model.norm.weight")},
        }
    return out


def main():
    root = sys.argv[1]
    all_goldens = {"source": "tools/oracles/engine/hf_tiny.py with transformers "
                             f"{__import__('transformers').__version__}, torch {torch.__version__}"}
    for name in ("llama3", "qwen2", "mistral"):
        model = build(name)
        folder = os.path.join(root, "fixtures", name)
        os.makedirs(folder, exist_ok=True)
        if name == "qwen2":
            model.to(torch.bfloat16).save_pretrained(folder)
        elif name == "mistral":
            model.save_pretrained(folder, max_shard_size="40KB")
        else:
            model.save_pretrained(folder)
        for extra in ("generation_config.json",):
            if os.path.exists(os.path.join(folder, extra)):
                os.remove(os.path.join(folder, extra))
        # Goldens come from the saved files as transformers loads them, in float32 (for qwen2
        # that is the bfloat16-rounded weights; RoPE tables are rebuilt in float32).
        model = type(model).from_pretrained(folder, dtype=torch.float32, attn_implementation="eager")
        all_goldens[name] = goldens(name, model)
    with open(os.path.join(root, "golden", "hf-tiny.json"), "w") as f:
        json.dump(all_goldens, f)
    print("wrote fixtures and golden/hf-tiny.json")


if __name__ == "__main__":
    main()
