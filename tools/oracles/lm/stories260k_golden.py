"""Golden greedy continuation of the real stories260K model (../shared/models/stories260k) for
@delta/lm's llama2.c conversion + ONNX export test. Test oracle only.

Two independent forward passes must agree before anything is written:
  1. numpy, following llama2.c's run.c: adjacent-pair RoPE on the weights as stored;
  2. transformers' LlamaForCausalLM on the weights with wq/wk rows moved from pairs to halves.
It writes libs/lm/test/fixtures/golden/stories260k.json: the 40 greedy ids after BOS (id 1),
recomputing the whole sequence each step, and the logits after BOS alone.

Run from the repository root (torch 2.15.0, transformers 5.25.0, numpy 2.4 were used):
  python tools/oracles/lm/stories260k_golden.py
"""

import base64
import json
import os

import numpy as np
import torch
import transformers

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BIN = os.path.join(ROOT, "..", "shared", "models", "stories260k", "stories260K.bin")
OUT = os.path.join(ROOT, "libs", "lm", "test", "fixtures", "golden", "stories260k.json")
STEPS = 40


def load():
    raw = open(BIN, "rb").read()
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = np.frombuffer(raw[:28], dtype="<i4")
    f = np.frombuffer(raw[28:], dtype="<f4")
    hd = dim // heads
    kv = kv_heads * hd
    pos = 0

    def take(*shape):
        nonlocal pos
        n = int(np.prod(shape))
        out = f[pos:pos + n].reshape(shape)
        pos += n
        return out

    w = {"emb": take(abs(vocab), dim), "att_norm": take(layers, dim), "wq": take(layers, dim, dim),
         "wk": take(layers, kv, dim), "wv": take(layers, kv, dim), "wo": take(layers, dim, dim),
         "ffn_norm": take(layers, dim), "w1": take(layers, hidden, dim), "w2": take(layers, dim, hidden),
         "w3": take(layers, hidden, dim), "norm": take(dim)}
    cfg = dict(dim=int(dim), hidden=int(hidden), layers=int(layers), heads=int(heads),
               kv_heads=int(kv_heads), vocab=abs(int(vocab)), seq_len=int(seq_len), hd=int(hd))
    return cfg, w


def rmsnorm(x, g):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + 1e-5) * g


def numpy_logits(cfg, w, ids):
    """run.c's forward in float64: pairs (2i, 2i+1) rotated by theta 10000 ** (-2i / hd)."""
    T, hd, H, K = len(ids), cfg["hd"], cfg["heads"], cfg["kv_heads"]
    x = w["emb"][ids].astype(np.float64)
    freq = 10000.0 ** (-np.arange(0, hd, 2) / hd)
    ang = np.arange(T)[:, None] * freq[None, :]
    cos, sin = np.cos(ang), np.sin(ang)

    def rope(v):  # v: [T, n, hd]
        a, b = v[..., 0::2], v[..., 1::2]
        out = np.empty_like(v)
        out[..., 0::2] = a * cos[:, None] - b * sin[:, None]
        out[..., 1::2] = a * sin[:, None] + b * cos[:, None]
        return out

    mask = np.triu(np.full((T, T), -np.inf), 1)
    for l in range(cfg["layers"]):
        h = rmsnorm(x, w["att_norm"][l])
        q = rope((h @ w["wq"][l].T).reshape(T, H, hd))
        k = rope((h @ w["wk"][l].T).reshape(T, K, hd))
        v = (h @ w["wv"][l].T).reshape(T, K, hd)
        out = np.empty((T, H, hd))
        for head in range(H):
            kh = head // (H // K)
            s = q[:, head] @ k[:, kh].T / np.sqrt(hd) + mask
            p = np.exp(s - s.max(-1, keepdims=True))
            p /= p.sum(-1, keepdims=True)
            out[:, head] = p @ v[:, kh]
        x = x + out.reshape(T, -1) @ w["wo"][l].T
        h = rmsnorm(x, w["ffn_norm"][l])
        g = h @ w["w1"][l].T
        x = x + ((g / (1 + np.exp(-g))) * (h @ w["w3"][l].T)) @ w["w2"][l].T
    return rmsnorm(x, w["norm"]) @ w["emb"].T.astype(np.float64)


def hf_model(cfg, w):
    hd = cfg["hd"]

    def halves(m, n):
        m = m.reshape(n, hd // 2, 2, -1)
        return np.concatenate([m[:, :, 0], m[:, :, 1]], axis=1).reshape(n * hd, -1)

    config = transformers.LlamaConfig(
        vocab_size=cfg["vocab"], hidden_size=cfg["dim"], intermediate_size=cfg["hidden"],
        num_hidden_layers=cfg["layers"], num_attention_heads=cfg["heads"],
        num_key_value_heads=cfg["kv_heads"], max_position_embeddings=cfg["seq_len"],
        rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=True)
    config._attn_implementation = "eager"
    model = transformers.LlamaForCausalLM(config).eval()
    sd = {"model.embed_tokens.weight": w["emb"], "model.norm.weight": w["norm"]}
    for l in range(cfg["layers"]):
        p = f"model.layers.{l}"
        sd.update({f"{p}.input_layernorm.weight": w["att_norm"][l],
                   f"{p}.self_attn.q_proj.weight": halves(w["wq"][l], cfg["heads"]),
                   f"{p}.self_attn.k_proj.weight": halves(w["wk"][l], cfg["kv_heads"]),
                   f"{p}.self_attn.v_proj.weight": w["wv"][l], f"{p}.self_attn.o_proj.weight": w["wo"][l],
                   f"{p}.post_attention_layernorm.weight": w["ffn_norm"][l],
                   f"{p}.mlp.gate_proj.weight": w["w1"][l], f"{p}.mlp.down_proj.weight": w["w2"][l],
                   f"{p}.mlp.up_proj.weight": w["w3"][l]})
    missing, unexpected = model.load_state_dict({k: torch.tensor(np.array(v)) for k, v in sd.items()}, strict=False)
    assert set(missing) <= {"lm_head.weight"} and not unexpected
    model.tie_weights()
    return model


def main():
    torch.set_grad_enabled(False)
    cfg, w = load()
    model = hf_model(cfg, w)
    ids = [1]
    for _ in range(STEPS):
        hf = model(input_ids=torch.tensor([ids])).logits[0].numpy()
        ref = numpy_logits(cfg, w, ids)
        assert np.abs(hf - ref).max() < 1e-3, np.abs(hf - ref).max()
        assert int(hf[-1].argmax()) == int(ref[-1].argmax())
        ids.append(int(hf[-1].argmax()))
    first = model(input_ids=torch.tensor([[1]])).logits[0, 0].numpy().astype("<f4")
    golden = {
        "producedBy": f"tools/oracles/lm/stories260k_golden.py (torch {torch.__version__}, "
        f"transformers {transformers.__version__}; agrees with a numpy run.c forward)",
        "greedy": ids[1:],
        "logitsAfterBos": base64.b64encode(first.tobytes()).decode("ascii"),
    }
    with open(OUT, "w") as fh:
        json.dump(golden, fh)
        fh.write("\n")
    print("greedy:", ids[1:])


if __name__ == "__main__":
    main()
