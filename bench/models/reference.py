#!/usr/bin/env python3
"""A reference for ragway's built-in models, in NumPy: a BERT / XLM-RoBERTa
encoder read from the same folder (config.json, tokenizer.json through
Hugging Face's `tokenizers`, model.safetensors through `safetensors`), the
same pooling and normalisation, written from the transformers source with
nothing shared with ragway's Rust (candle) code.

  reference.py embed DIR [--mean|--cls] [--prefix P] < texts.json > vectors.json
  reference.py rerank DIR QUERY < passages.json > scores.json
  reference.py throughput DIR [--mean|--cls] < texts.json   (texts/s, on stderr too)

It checks (models/tests/, within 1e-4 cosine) and it is the same-run
throughput baseline of bench/models/embed.sh. Needs numpy, safetensors,
tokenizers (pip).
"""
import json
import math
import sys
import time

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer


def _erf_fast(x):
    # A&S 7.1.26 (|error| < 1.5e-7), vectorised.
    s = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * np.exp(-a * a)
    return s * y


def gelu(x):
    return 0.5 * x * (1.0 + _erf_fast(x / math.sqrt(2.0)))


def layer_norm(x, w, b, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


class Encoder:
    def __init__(self, folder, max_tokens=None):
        self.config = json.load(open(f"{folder}/config.json"))
        self.kind = self.config.get("model_type", "bert")
        raw = load_file(f"{folder}/model.safetensors")
        self.w = {k: v.astype(np.float32) for k, v in raw.items()}
        self.prefix = ""
        for p in ("bert.", "roberta."):
            if f"{p}embeddings.word_embeddings.weight" in self.w:
                self.prefix = p
        limit = self.config.get("max_position_embeddings", 512)
        if self.kind != "bert":
            limit -= 2
        self.tok = Tokenizer.from_file(f"{folder}/tokenizer.json")
        self.tok.enable_truncation(min(max_tokens or limit, limit))
        pad = self.config.get("pad_token_id", 0 if self.kind == "bert" else 1)
        self.pad = pad
        self.tok.enable_padding(pad_id=pad, pad_token=self.tok.id_to_token(pad) or "[PAD]")

    def p(self, name):
        return self.w[self.prefix + name]

    def forward(self, encodings):
        ids = np.array([e.ids for e in encodings])
        types = np.array([e.type_ids for e in encodings])
        mask = np.array([e.attention_mask for e in encodings]).astype(np.float32)
        c = self.config
        eps = c.get("layer_norm_eps", 1e-12)
        if self.kind == "bert":
            positions = np.arange(ids.shape[1])[None, :].repeat(ids.shape[0], 0)
        else:
            # RoBERTa: positions count the real tokens from padding_idx + 1.
            real = (ids != self.pad).astype(np.int64)
            positions = np.cumsum(real, axis=1) * real + self.pad
        x = (
            self.p("embeddings.word_embeddings.weight")[ids]
            + self.p("embeddings.position_embeddings.weight")[positions]
            + self.p("embeddings.token_type_embeddings.weight")[types]
        )
        x = layer_norm(x, self.p("embeddings.LayerNorm.weight"), self.p("embeddings.LayerNorm.bias"), eps)
        heads = c["num_attention_heads"]
        hd = c["hidden_size"] // heads
        bias = (1.0 - mask)[:, None, None, :] * np.float32(-1e9)
        B, T, H = x.shape
        for i in range(c["num_hidden_layers"]):
            L = f"encoder.layer.{i}."
            lin = lambda v, n: v @ self.p(L + n + ".weight").T + self.p(L + n + ".bias")
            q = lin(x, "attention.self.query").reshape(B, T, heads, hd).transpose(0, 2, 1, 3)
            k = lin(x, "attention.self.key").reshape(B, T, heads, hd).transpose(0, 2, 1, 3)
            v = lin(x, "attention.self.value").reshape(B, T, heads, hd).transpose(0, 2, 1, 3)
            s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd) + bias
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(0, 2, 1, 3).reshape(B, T, H)
            x = layer_norm(x + lin(ctx, "attention.output.dense"),
                           self.p(L + "attention.output.LayerNorm.weight"),
                           self.p(L + "attention.output.LayerNorm.bias"), eps)
            h = gelu(lin(x, "intermediate.dense"))
            x = layer_norm(x + lin(h, "output.dense"),
                           self.p(L + "output.LayerNorm.weight"), self.p(L + "output.LayerNorm.bias"), eps)
        return x, mask


def embed(enc, texts, mean=True, prefix="", batch=16):
    out = [None] * len(texts)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for g in range(0, len(order), batch):
        idx = order[g:g + batch]
        encodings = enc.tok.encode_batch([prefix + texts[i] for i in idx])
        h, mask = enc.forward(encodings)
        if mean:
            v = (h * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        else:
            v = h[:, 0, :]
        v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        for j, i in enumerate(idx):
            out[i] = v[j].tolist()
    return out


def rerank(enc, query, passages):
    encodings = enc.tok.encode_batch([(query, p) for p in passages])
    h, _ = enc.forward(encodings)
    cls = h[:, 0, :]
    if enc.kind == "bert":
        pooled = np.tanh(cls @ enc.p("pooler.dense.weight").T + enc.p("pooler.dense.bias"))
        logits = pooled @ enc.w["classifier.weight"].T + enc.w["classifier.bias"]
    else:
        d = np.tanh(cls @ enc.w["classifier.dense.weight"].T + enc.w["classifier.dense.bias"])
        logits = d @ enc.w["classifier.out_proj.weight"].T + enc.w["classifier.out_proj.bias"]
    return (1.0 / (1.0 + np.exp(-logits[:, 0]))).tolist()


def main():
    verb, folder = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    mean = "--cls" not in args
    prefix = args[args.index("--prefix") + 1] if "--prefix" in args else ""
    max_tokens = None
    try:
        max_tokens = json.load(open(f"{folder}/sentence_bert_config.json")).get("max_seq_length")
    except OSError:
        pass
    enc = Encoder(folder, max_tokens)
    data = json.load(sys.stdin)
    if verb == "embed":
        json.dump(embed(enc, data, mean, prefix), sys.stdout)
    elif verb == "rerank":
        json.dump(rerank(enc, args[0], data), sys.stdout)
    elif verb == "throughput":
        embed(enc, data[:16], mean, prefix)  # warm
        start = time.perf_counter()
        embed(enc, data, mean, prefix)
        secs = time.perf_counter() - start
        chars = sum(len(t.encode()) for t in data)
        print(json.dumps({"texts": len(data), "secs": secs, "texts_per_sec": len(data) / secs,
                          "mb_per_sec": chars / secs / 1e6}))
    else:
        sys.exit(f"unknown verb {verb}")


if __name__ == "__main__":
    main()
