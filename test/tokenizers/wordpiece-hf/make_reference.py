# Dev script (not run by npm test; needs Python `tokenizers` 0.23.2): the reference for test/tokenizers/wordpiece.test.ts.
# HF's WordPieceTrainer breaks ties between equally frequent pairs by token ids, and it numbers the "##c" tokens in
# its hash map's random order, so two runs can differ. This trains RUNS times on corpus.txt and records what every
# run agrees on — the vocabulary size, the special tokens and the alphabet with their ids, the "##c" set, the tokens
# every run learned ("always") and those some run learned ("sometimes") — plus BertWordPieceTokenizer's ids of each
# corpus line under the first run's vocabulary (hf-vocab.txt). Run: python3 make_reference.py
import json, os
from tokenizers import Tokenizer, BertWordPieceTokenizer, models, normalizers, pre_tokenizers, trainers
here = os.path.dirname(os.path.abspath(__file__))
corpus = os.path.join(here, "corpus.txt")
VOCAB, MIN_FREQ, RUNS = 300, 2, 40
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

def train():
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train([corpus], trainers.WordPieceTrainer(vocab_size=VOCAB, min_frequency=MIN_FREQ, show_progress=False, special_tokens=SPECIALS))
    v = tok.get_vocab()
    return sorted(v, key=v.get)

runs = [train() for _ in range(RUNS)]
first = runs[0]
singles = lambda voc: sorted(t for t in voc if t.startswith("##") and len(t) == 3)
n_fixed = next(i for i, t in enumerate(first) if t.startswith("##") and len(t) == 3)
assert all(r[:n_fixed] == first[:n_fixed] and singles(r) == singles(first) for r in runs)
always = set.intersection(*map(set, runs))
union = set.union(*map(set, runs))
open(os.path.join(here, "hf-vocab.txt"), "w").write("\n".join(first) + "\n")
bert = BertWordPieceTokenizer(os.path.join(here, "hf-vocab.txt"), lowercase=True)
lines = [l for l in open(corpus).read().split("\n") if l]
json.dump({
    "tokenizers": "0.23.2", "vocab_size": VOCAB, "min_frequency": MIN_FREQ, "lowercase": True, "runs": RUNS,
    "trained_sizes": sorted({len(r) for r in runs}), "specials_and_alphabet": first[:n_fixed], "continuations": singles(first),
    "always": sorted(always), "sometimes": sorted(union - always),
    "ids": [bert.encode(l).ids for l in lines],
}, open(os.path.join(here, "reference.json"), "w"), ensure_ascii=False)
print(len(first), "tokens;", len(always), "in every run,", len(union - always), "in some")
