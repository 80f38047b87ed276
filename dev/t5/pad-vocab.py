"""Gives a bench model folder (`zhiyu init --arch t5 --preset small`, no tokenizer) a Unigram tokenizer.json whose
vocabulary has exactly the model's vocab_size pieces, so `zhiyu convert` writes a GGUF that llama.cpp loads (it
requires n_vocab = the embedding's rows). The pieces are the test Unigram tokenizer's (test/tokenizers/data/unigram:
specials, bytes, trained pieces, sentinels) followed by never-chosen fillers "[PADn]" (score -1e4), as llama.cpp's
convert_hf_to_gguf.py pads T5 vocabularies. For speed comparisons only: the model's weights are random anyway.
usage: python3 dev/t5/pad-vocab.py MODEL_DIR"""
import json, os, shutil, sys

model_dir = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
src = os.path.join(here, "..", "..", "test", "tokenizers", "data", "unigram")
vocab_size = json.load(open(os.path.join(model_dir, "config.json")))["vocab_size"]
tok = json.load(open(os.path.join(src, "tokenizer.json")))
pieces = tok["model"]["vocab"]
if len(pieces) > vocab_size:
    sys.exit(f"pad-vocab: the test tokenizer has {len(pieces)} pieces, more than the model's vocab_size {vocab_size}")
pieces += [[f"[PAD{i}]", -1e4] for i in range(vocab_size - len(pieces))]
with open(os.path.join(model_dir, "tokenizer.json"), "w") as f:
    json.dump(tok, f, ensure_ascii=False)
shutil.copy(os.path.join(src, "tokenizer_config.json"), os.path.join(model_dir, "tokenizer_config.json"))
print(f"wrote {model_dir}/tokenizer.json ({vocab_size} pieces)")
