"""Golden logits for @delta/lm's ONNX export parity tests, produced once with PyTorch + HF
transformers and committed under libs/lm/test/fixtures/golden/. Test oracle only: nothing in the
product runs Python.

It mirrors hashedUniform / randomDecoderWeights (libs/lm/src/random-checkpoint.ts) in numpy, so
transformers holds bit-identical weights to the checkpoint the TypeScript tests write, loads them
into LlamaForCausalLM / Qwen2ForCausalLM / MistralForCausalLM (eager attention, float32), and
records for each tiny model of libs/lm/test/fixtures/tiny-models.json:
  - weightsSha256: digest over (name, float32 bytes) of every tensor in name order,
  - invFreq: the rotary inverse frequencies transformers computed,
  - logits: float32 logits of each input sequence run alone (base64, little-endian, [S, V]),
  - greedy: the next `greedyNewTokens` argmax ids, recomputing the whole sequence each step,
    and greedyMinTop2Gap, the smallest margin between the best and second-best logit met on
    the way (how much numerical error greedy parity can absorb).

Run from the repository root (versions used: torch 2.15.0, transformers 5.25.0, numpy 2.4):
  python tools/oracles/lm/make_goldens.py
"""

import base64
import hashlib
import json
import math
import os

import numpy as np
import torch
import transformers

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
FIXTURES = os.path.join(ROOT, "libs", "lm", "test", "fixtures")

M32 = np.uint64(0xFFFFFFFF)
# Small embeddings keep the residual stream from repeating the last token; a tied output layer
# then needs a larger final norm for logits to spread (see random-checkpoint.ts).
EMBED_SCALE = 0.1
TIED_FINAL_NORM = 8.0


def lowbias32(x):
    x = x.astype(np.uint64) & M32
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x7FEB352D)) & M32
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x846CA68B)) & M32
    x ^= x >> np.uint64(16)
    return x


def fnv1a32(text):
    h = 0x811C9DC5
    for byte in text.encode("utf-8"):
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def hashed_uniform(seed, name, count, scale):
    base = int(lowbias32(np.array([(seed ^ fnv1a32(name)) & 0xFFFFFFFF]))[0])
    idx = (np.arange(count, dtype=np.uint64) + np.uint64(base)) & M32
    u = (lowbias32(idx) >> np.uint64(8)).astype(np.float64) * 2.0**-24
    two_u_minus_1 = (2.0 * u - 1.0).astype(np.float32)  # exact in float32
    return two_u_minus_1 * np.float32(scale)


def decoder_weights(cfg, seed):
    c, f, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    heads, kv = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    d = cfg.get("head_dim") or c // heads
    qkv_bias = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
    o_bias = cfg["model_type"] == "llama" and cfg.get("attention_bias", False)
    mlp_bias = cfg["model_type"] == "llama" and cfg.get("mlp_bias", False)
    out = {}

    def linear(name, rows, cols, gain=1.0, bias=False):
        scale = gain * math.sqrt(3 / cols)
        out[f"{name}.weight"] = hashed_uniform(seed, f"{name}.weight", rows * cols, scale).reshape(rows, cols)
        if bias:
            out[f"{name}.bias"] = hashed_uniform(seed, f"{name}.bias", rows, 0.1)

    def norm(name, center=1.0):
        out[name] = np.float32(center) + hashed_uniform(seed, name, c, 0.2)

    out["model.embed_tokens.weight"] = hashed_uniform(seed, "model.embed_tokens.weight", v * c, EMBED_SCALE).reshape(v, c)
    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}"
        norm(f"{p}.input_layernorm.weight")
        linear(f"{p}.self_attn.q_proj", heads * d, c, 1.0, qkv_bias)
        linear(f"{p}.self_attn.k_proj", kv * d, c, 1.0, qkv_bias)
        linear(f"{p}.self_attn.v_proj", kv * d, c, 1.0, qkv_bias)
        linear(f"{p}.self_attn.o_proj", c, heads * d, 1.0, o_bias)
        norm(f"{p}.post_attention_layernorm.weight")
        linear(f"{p}.mlp.gate_proj", f, c, 1.0, mlp_bias)
        linear(f"{p}.mlp.up_proj", f, c, 1.0, mlp_bias)
        linear(f"{p}.mlp.down_proj", c, f, 1.0, mlp_bias)
    tied = cfg.get("tie_word_embeddings", False)
    norm("model.norm.weight", TIED_FINAL_NORM if tied else 1.0)
    if not tied:
        linear("lm_head", v, c, 3.0)
    return out


def weights_digest(weights):
    h = hashlib.sha256()
    for name in sorted(weights):
        h.update(name.encode("utf-8"))
        h.update(np.ascontiguousarray(weights[name], dtype="<f4").tobytes())
    return h.hexdigest()


def build_model(cfg, weights):
    classes = {
        "llama": (transformers.LlamaConfig, transformers.LlamaForCausalLM),
        "qwen2": (transformers.Qwen2Config, transformers.Qwen2ForCausalLM),
        "mistral": (transformers.MistralConfig, transformers.MistralForCausalLM),
    }
    config_cls, model_cls = classes[cfg["model_type"]]
    fields = {k: v for k, v in cfg.items() if k not in ("architectures", "model_type")}
    config = config_cls(**fields)
    config._attn_implementation = "eager"
    model = model_cls(config).to(torch.float32).eval()
    state = {k: torch.from_numpy(np.array(v)) for k, v in weights.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    allowed_missing = {"lm_head.weight"} if cfg.get("tie_word_embeddings", False) else set()
    assert set(missing) <= allowed_missing and not unexpected, (missing, unexpected)
    if cfg.get("tie_word_embeddings", False):
        model.tie_weights()
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    return model


def main():
    spec = json.load(open(os.path.join(FIXTURES, "tiny-models.json")))
    torch.set_grad_enabled(False)
    os.makedirs(os.path.join(FIXTURES, "golden"), exist_ok=True)
    for name, entry in spec["models"].items():
        cfg = entry["config"]
        weights = decoder_weights(cfg, entry["seed"])
        model = build_model(cfg, weights)
        golden = {
            "producedBy": f"tools/oracles/lm/make_goldens.py (torch {torch.__version__}, "
            f"transformers {transformers.__version__})",
            "weightsSha256": weights_digest(weights),
            "invFreq": model.model.rotary_emb.inv_freq.tolist(),
            "logits": [],
            "greedy": [],
        }
        min_gap = math.inf
        for ids in spec["inputs"]:
            input_ids = torch.tensor([ids], dtype=torch.long)
            logits = model(input_ids=input_ids).logits[0].numpy().astype("<f4")
            golden["logits"].append(base64.b64encode(logits.tobytes()).decode("ascii"))
            # Greedy by full recomputation, no end token: independent of any KV cache.
            seq = list(ids)
            for _ in range(spec["greedyNewTokens"]):
                step = model(input_ids=torch.tensor([seq], dtype=torch.long)).logits[0, -1]
                top2 = torch.topk(step, 2).values
                min_gap = min(min_gap, float(top2[0] - top2[1]))
                seq.append(int(torch.argmax(step)))
            golden["greedy"].append(seq[len(ids):])
        golden["greedyMinTop2Gap"] = min_gap
        path = os.path.join(FIXTURES, "golden", f"{name}.json")
        with open(path, "w") as fh:
            json.dump(golden, fh)
            fh.write("\n")
        print(f"{name}: wrote {os.path.relpath(path, ROOT)}")


if __name__ == "__main__":
    main()
