"""Prints the Rust `tokenizers` ids of each line of a dump-lines.ts file, one JSON array per line (no </s>).
usage: python3 dev/t5/unigram-ids.py TOKENIZER_JSON LINES_JSONL > ids.jsonl"""
import json, sys
from tokenizers import Tokenizer
tok = Tokenizer.from_file(sys.argv[1])
lines = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8") if l.strip()]
for enc in tok.encode_batch(lines, add_special_tokens=False):
    print(json.dumps(enc.ids))
