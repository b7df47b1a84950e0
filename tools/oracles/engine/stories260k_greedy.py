"""Golden greedy decode of stories260K, independent of the engine.

A numpy transcription of the forward pass of llama2.c's run.c (Karpathy, MIT): it reads the
legacy .bin file as run.c does, rotates adjacent pairs (2i, 2i+1) for RoPE exactly as run.c
does (no permutation into the Hugging Face layout), and decodes greedily from BOS (token 1)
for 256 steps, keeping every token (run.c would stop at a generated BOS; we do not).
All arithmetic is float32 like run.c.

Run once from the repository root (numpy in any venv):
    python tools/oracles/engine/stories260k_greedy.py ../shared/models/stories260k/stories260K.bin \
        libs/engine/test/golden/stories260k-greedy.json
"""
import json
import sys

import numpy as np


def load(path):
    raw = open(path, "rb").read()
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = np.frombuffer(raw[:28], dtype=np.int32)
    shared = vocab > 0
    vocab = abs(vocab)
    w = np.frombuffer(raw[28:], dtype=np.float32)
    hs = dim // heads
    kv = kv_heads * hs
    at = 0

    def take(*shape):
        nonlocal at
        n = int(np.prod(shape))
        out = w[at:at + n].reshape(shape)
        at += n
        return out

    p = dict(
        emb=take(vocab, dim), att_norm=take(layers, dim), wq=take(layers, dim, dim),
        wk=take(layers, kv, dim), wv=take(layers, kv, dim), wo=take(layers, dim, dim),
        ffn_norm=take(layers, dim), w1=take(layers, hidden, dim), w2=take(layers, dim, hidden),
        w3=take(layers, hidden, dim), final_norm=take(dim),
    )
    take(seq_len, hs // 2)
    take(seq_len, hs // 2)
    p["cls"] = p["emb"] if shared else take(vocab, dim)
    cfg = dict(dim=int(dim), hidden=int(hidden), layers=int(layers), heads=int(heads),
               kv_heads=int(kv_heads), vocab=int(vocab), seq_len=int(seq_len))
    return cfg, p


def rmsnorm(x, w):
    ss = np.float32(np.mean(x * x, dtype=np.float32)) + np.float32(1e-5)
    return (w * (x * np.float32(1.0 / np.sqrt(ss)))).astype(np.float32)


def softmax(x):
    e = np.exp(x - x.max(), dtype=np.float32)
    return (e / e.sum(dtype=np.float32)).astype(np.float32)


def forward(cfg, p, token, pos, kcache, vcache):
    dim, heads, kvh = cfg["dim"], cfg["heads"], cfg["kv_heads"]
    hs = dim // heads
    kv_mul = heads // kvh
    x = p["emb"][token].copy()
    for l in range(cfg["layers"]):
        xb = rmsnorm(x, p["att_norm"][l])
        q = p["wq"][l] @ xb
        k = p["wk"][l] @ xb
        v = p["wv"][l] @ xb
        for i in range(0, dim, 2):  # run.c: rotate adjacent pairs, q always, k while i < kv_dim
            head_dim = i % hs
            freq = np.float32(1.0 / np.power(10000.0, head_dim / float(hs), dtype=np.float32))
            val = np.float32(pos) * freq
            fcr, fci = np.float32(np.cos(val)), np.float32(np.sin(val))
            for vec in ((q, k) if i < kvh * hs else (q,)):
                v0, v1 = vec[i], vec[i + 1]
                vec[i] = v0 * fcr - v1 * fci
                vec[i + 1] = v0 * fci + v1 * fcr
        kcache[l, pos] = k
        vcache[l, pos] = v
        out = np.zeros(dim, dtype=np.float32)
        for h in range(heads):
            qh = q[h * hs:(h + 1) * hs]
            g = h // kv_mul
            keys = kcache[l, :pos + 1, g * hs:(g + 1) * hs]
            att = softmax((keys @ qh) / np.float32(np.sqrt(hs)))
            out[h * hs:(h + 1) * hs] = att @ vcache[l, :pos + 1, g * hs:(g + 1) * hs]
        x = x + p["wo"][l] @ out
        xb = rmsnorm(x, p["ffn_norm"][l])
        h1 = p["w1"][l] @ xb
        h3 = p["w3"][l] @ xb
        hb = (h1 * (np.float32(1.0) / (np.float32(1.0) + np.exp(-h1)))) * h3
        x = x + p["w2"][l] @ hb.astype(np.float32)
    x = rmsnorm(x, p["final_norm"])
    return (p["cls"] @ x).astype(np.float32)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    cfg, p = load(src)
    kv = cfg["kv_heads"] * cfg["dim"] // cfg["heads"]
    kcache = np.zeros((cfg["layers"], cfg["seq_len"], kv), dtype=np.float32)
    vcache = np.zeros_like(kcache)
    token, ids, margins, first_logits = 1, [], [], None
    for pos in range(256):
        logits = forward(cfg, p, token, pos, kcache, vcache)
        if pos == 0:
            first_logits = logits
        top2 = np.sort(logits)[-2:]
        margins.append(float(top2[1] - top2[0]))
        token = int(np.argmax(logits))
        ids.append(token)
    json.dump({
        "source": "tools/oracles/engine/stories260k_greedy.py (numpy transcription of llama2.c "
                  "run.c, float32, adjacent-pair RoPE) on stories260K.bin",
        "prompt": [1],
        "ids": ids,
        "min_top2_margin": min(margins),
        "first_logits_head": [float(v) for v in first_logits[:16]],
    }, open(dst, "w"), indent=1)
    print(f"wrote {len(ids)} ids; smallest top-2 logit margin {min(margins):.4f}")


if __name__ == "__main__":
    main()
