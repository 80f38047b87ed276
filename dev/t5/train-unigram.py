"""Trains the small SentencePiece Unigram tokenizer the T5 tests use, and computes its reference ids.

1. sentencepiece (unigram, byte_fallback, identity normalisation) on the licensed text that dump-lines.ts wrote;
2. the pieces and scores as a Hugging Face tokenizer.json built with the `tokenizers` package the way T5's is
   (Unigram model with byte fallback; NFKC + collapse runs of spaces; Metaspace "▁" prepended, split; "$A </s>"
   post-processor; sentinels <extra_id_0..N-1> as special added tokens at the top of the id range, as T5 has them);
3. the reference: the Rust `tokenizers` ids of every line of every data set, as one SHA-256 per set over the ids
   (little-endian int32, each line's ids followed by -1) with the line and token counts, plus the ids of a few lines
   in the clear for readable failures.

usage: python3 dev/t5/train-unigram.py [LINES_DIR] [OUT_DIR]
       (defaults /tmp/zhiyu-t5-lines and test/tokenizers/data/unigram)
"""
import hashlib, json, os, struct, sys
import sentencepiece as spm
from tokenizers import Tokenizer, Regex, AddedToken, models, normalizers, pre_tokenizers, decoders, processors
import tokenizers

lines_dir = sys.argv[1] if len(sys.argv) > 1 else "/tmp/zhiyu-t5-lines"
out_dir = sys.argv[2] if len(sys.argv) > 2 else "test/tokenizers/data/unigram"
os.makedirs(out_dir, exist_ok=True)
VOCAB, SENTINELS = 3000, 32

prefix = os.path.join(lines_dir, "sp")
spm.set_random_generator_seed(7)
spm.SentencePieceTrainer.train(
    input=os.path.join(lines_dir, "train.txt"), model_prefix=prefix, model_type="unigram", vocab_size=VOCAB,
    byte_fallback=True, character_coverage=0.98, normalization_rule_name="identity", pad_id=0, eos_id=1, unk_id=2,
    bos_id=-1, input_sentence_size=400000, shuffle_input_sentence=True, seed_sentencepiece_size=200000,
    num_threads=2, minloglevel=2)
sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
pieces = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]

tok = Tokenizer(models.Unigram(pieces, unk_id=2, byte_fallback=True))
tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
tok.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)])
tok.add_special_tokens([AddedToken(p, special=True) for p in ["<pad>", "</s>", "<unk>"]])
# T5: <extra_id_0> is the highest id.
tok.add_special_tokens([AddedToken(f"<extra_id_{SENTINELS - 1 - i}>", special=True) for i in range(SENTINELS)])
tok.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)])
tok.save(os.path.join(out_dir, "tokenizer.json"))
# Compact (the test data stays small): the same JSON without indentation.
with open(os.path.join(out_dir, "tokenizer.json"), encoding="utf-8") as f:
    compact = json.load(f)
with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
    json.dump(compact, f, ensure_ascii=False, separators=(",", ":"))
with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
    json.dump({"eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>", "extra_ids": SENTINELS,
               "model_max_length": 512, "tokenizer_class": "T5Tokenizer"}, f, indent=1)

tok = Tokenizer.from_file(os.path.join(out_dir, "tokenizer.json"))
ref = {"tokenizers": tokenizers.__version__, "sentencepiece": spm.__version__, "vocab_pieces": len(pieces),
       "sentinels": SENTINELS, "add_special_tokens": False, "sets": {}, "samples": []}
for name in sorted(os.listdir(lines_dir)):
    if not name.endswith(".jsonl"):
        continue
    lines = [json.loads(l) for l in open(os.path.join(lines_dir, name), encoding="utf-8") if l.strip()]
    h, n_tok = hashlib.sha256(), 0
    for start in range(0, len(lines), 20000):
        for enc in tok.encode_batch(lines[start:start + 20000], add_special_tokens=False):
            h.update(struct.pack(f"<{len(enc.ids) + 1}i", *enc.ids, -1))
            n_tok += len(enc.ids)
    ref["sets"][name[:-6]] = {"lines": len(lines), "tokens": n_tok, "sha256": h.hexdigest()}
    for line in lines[:: max(1, len(lines) // 4)][:4]:
        ref["samples"].append({"text": line[:300], "ids": tok.encode(line[:300], add_special_tokens=True).ids})
    print(name, ref["sets"][name[:-6]], flush=True)
for text in ["Translate English to German: That is good.", "The <extra_id_0> walks in <extra_id_1> park", "  double  spaces \t tab",
             "emoji 🤖 and 中文字符 mixed", "ﬁ ligature ＡＢＣ full-width"]:
    ref["samples"].append({"text": text, "ids": tok.encode(text, add_special_tokens=True).ids})
with open(os.path.join(out_dir, "reference.json"), "w") as f:
    json.dump(ref, f, ensure_ascii=False, indent=0)
