#!/usr/bin/env python3
"""The pretraining text of Zhiyu's own encoder (recipes/zhiyu-encoder.sh): one utterance or sentence per line, from
the licensed sets in ../shared/data only — Chinese: CrossWOZ val+test dialogues (Apache-2.0), KdConv travel dev+test
dialogues (Apache-2.0), LCCC toy (MIT); English: TinyStories sample (CDLA-Sharing-1.0), banking77 train (CC BY 4.0),
clinc150 train/val/oos_train (CC BY 3.0), ABCD sample (MIT). Never a test split of a benchmark set, and never the
unlicensed sets (smp2017-ecdt, clue-emotion, zh-sentiment-reviews). Lines are deduplicated and shuffled with a seed.
usage: python3 dev/bert/encoder-corpus.py --data ../shared/data --out runs/encoder/corpus.txt
"""
import argparse, csv, json, os, random, re, zipfile

ap = argparse.ArgumentParser()
ap.add_argument("--data", default="../shared/data")
ap.add_argument("--out", required=True)
ap.add_argument("--seed", type=int, default=16)
a = ap.parse_args()
d = a.data
lines, sources = [], {}

def add(name, texts):
    n = 0
    for t in texts:
        t = re.sub(r"\s+", " ", str(t)).strip()
        if len(t) >= 2:
            lines.append(t); n += 1
    sources[name] = n

for split in ("val.json.zip", "test.json.zip"):
    p = os.path.join(d, "crosswoz", split)
    if os.path.exists(p):
        with zipfile.ZipFile(p) as z:
            dialogues = json.loads(z.read(z.namelist()[0]))
        add("crosswoz/" + split, (m["content"] for dl in dialogues.values() for m in dl["messages"]))
for split in ("dev.json", "test.json"):
    add("kdconv-travel/" + split, (m["message"] for c in json.load(open(os.path.join(d, "kdconv-travel", split))) for m in c["messages"]))
toy = json.load(open(os.path.join(d, "lccc-toy", "toy_data.json")))
def flatten(x):
    if isinstance(x, str): yield x.replace(" ", "")
    elif isinstance(x, list):
        for y in x: yield from flatten(y)
    elif isinstance(x, dict):
        for y in x.values(): yield from flatten(y)
add("lccc-toy", flatten(toy))
stories = open(os.path.join(d, "tinystories-val-sample", "tinystories_val.txt")).read()
add("tinystories", (s for s in re.split(r"(?<=[.!?])\s+", stories)))
with open(os.path.join(d, "banking77", "train.csv")) as f:
    add("banking77/train", (r["text"] for r in csv.DictReader(f)))
c = json.load(open(os.path.join(d, "clinc150", "data_full.json")))
add("clinc150/train+val+oos_train", (t for k in ("train", "val", "oos_train") for t, _ in c[k]))
abcd = json.load(open(os.path.join(d, "abcd-sample", "abcd_sample.json")))
add("abcd-sample", (t for t in flatten(abcd) if len(t) < 400))

seen, out = set(), []
for t in lines:
    if t not in seen:
        seen.add(t); out.append(t)
random.Random(a.seed).shuffle(out)
os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
open(a.out, "w").write("\n".join(out) + "\n")
print(json.dumps({"lines": len(out), "chars": sum(map(len, out)), "sources": sources}, ensure_ascii=False))
