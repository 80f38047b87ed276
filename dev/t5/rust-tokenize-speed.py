"""Encode speed of the Rust `tokenizers` library (through Python, one encode() per line) on the bench text, for
BENCHMARKS.md's Unigram table. usage: RAYON_NUM_THREADS=1 python3 dev/t5/rust-tokenize-speed.py"""
import time, sys
from tokenizers import Tokenizer
tok = Tokenizer.from_file("test/tokenizers/data/unigram/tokenizer.json")
lines = [l for l in open("/tmp/zhiyu-zh-en-dialogue.txt", encoding="utf-8").read().split("\n") if l]
mb = sum(len(l.encode()) for l in lines) / 1e6
best = []
for r in range(3):
    t = time.perf_counter()
    for l in lines: tok.encode(l, add_special_tokens=False)
    best.append(time.perf_counter() - t)
best.sort()
print(f"rust tokenizers (one line at a time, 1 thread): {mb / best[1]:.2f} MB/s")
