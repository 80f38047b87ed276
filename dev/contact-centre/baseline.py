#!/usr/bin/env python3
"""The baseline a practitioner tries first for intent and emotion classification: scikit-learn TF-IDF word (1-2)
and char_wb (1-5) n-grams (unigrams matter for Chinese), sublinear tf, logistic regression (lbfgs, C=10, max_iter=1000). Same splits as Zhiyu's
`zhiyu desk eval` (src/apps/contact-centre/training/datasets.ts): banking77 official test; clinc150 test (in-scope
accuracy; out-of-scope recall with `oos` trained as a class, and by a max-probability threshold chosen on val so that
val in-scope accuracy drops by at most half a point, and one point); smp2017-ecdt seeded stratified 25% split (the split is read from
Zhiyu's exported file so both sides test on the same rows); clue-emotion train on valid, test on test (macro-F1).
Prints one JSON object per set. Dev script only (pip install scikit-learn); never run by npm test.

usage: python3 dev/contact-centre/baseline.py --data ../shared/data [--splits DIR] [--sets banking77,clinc150,...]
  --splits DIR   folder with smp2017.json / clue-emotion.json written by `node dev/contact-centre/compare.ts`
                 (the seeded splits); without it smp2017 uses its own seeded split (sklearn's train_test_split).
"""
import argparse
import json
import os
import sys

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import FeatureUnion, make_pipeline
import numpy as np


def model(analyzer_word_token=None):
    feats = FeatureUnion([
        ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=analyzer_word_token or r"(?u)\b\w+\b")),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 5), sublinear_tf=True)),
    ])
    return make_pipeline(feats, LogisticRegression(C=10, max_iter=1000))


def accuracy(pred, gold):
    return float(np.mean([p == g for p, g in zip(pred, gold)]))


def banking77(data):
    import csv
    read = lambda f: list(csv.reader(open(os.path.join(data, "banking77", f), encoding="utf-8")))[1:]
    train, test = read("train.csv"), read("test.csv")
    m = model().fit([t for t, _ in train], [l for _, l in train])
    return {"set": "banking77", "accuracy": accuracy(m.predict([t for t, _ in test]), [l for _, l in test])}


def clinc150(data):
    d = json.load(open(os.path.join(data, "clinc150", "data_full.json"), encoding="utf-8"))
    train = d["train"] + d["oos_train"]
    m = model().fit([t for t, _ in train], [l for _, l in train])
    out = {"set": "clinc150"}
    ins_test, oos_test = d["test"], d["oos_test"]
    pred_in = m.predict([t for t, _ in ins_test])
    pred_oos = m.predict([t for t, _ in oos_test])
    out["accuracy"] = accuracy(pred_in, [l for _, l in ins_test])
    out["oos_recall"] = float(np.mean([p == "oos" for p in pred_oos]))
    # Threshold on max probability, chosen on val: the highest whose val in-scope accuracy is within 0.5 / 1 point.
    classes = list(m.classes_)
    def scored(items):
        P = m.predict_proba([t for t, _ in items])
        return [(classes[int(np.argmax(p))], float(np.max(p))) for p in P]
    val_in, val_oos = scored(d["val"]), scored(d["oos_val"])
    base = accuracy([p for p, _ in val_in], [l for _, l in d["val"]])
    test_in, test_oos = scored(ins_test), scored(oos_test)
    for suffix, budget in (("threshold", 0.005), ("threshold_1pt", 0.01)):
        best = 0.0
        for t in np.linspace(0, 1, 101):
            acc = np.mean([p == g and c >= t for (p, c), (_, g) in zip(val_in, d["val"])])
            if acc >= base - budget:
                best = float(t)
        out[suffix] = best
        out["accuracy_" + suffix] = float(np.mean([p == g and c >= best for (p, c), (_, g) in zip(test_in, ins_test)]))
        out["oos_recall_" + suffix] = float(np.mean([p == "oos" or c < best for p, c in test_oos]))
    return out


def load_split(splits, name):
    if splits and os.path.exists(os.path.join(splits, f"{name}.json")):
        return json.load(open(os.path.join(splits, f"{name}.json"), encoding="utf-8"))
    return None


def smp2017(data, splits):
    s = load_split(splits, "smp2017")
    if s is None:
        rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(data, "smp2017-ecdt-intent", "Chinese_data.csv"), encoding="utf-8")][1:]
        rows = [r for r in rows if len(r) >= 2 and r[0].strip()]
        tr, te = train_test_split(rows, test_size=0.25, random_state=2017, stratify=[r[1] for r in rows])
        s = {"train": [{"text": t, "label": l} for t, l in tr], "test": [{"text": t, "label": l} for t, l in te]}
    # The char n-grams carry Chinese; the word analyzer sees whole runs of Han characters (what a first try gets).
    m = model().fit([e["text"] for e in s["train"]], [e["label"] for e in s["train"]])
    return {"set": "smp2017", "accuracy": accuracy(m.predict([e["text"] for e in s["test"]]), [e["label"] for e in s["test"]])}


def clue_emotion(data):
    read = lambda f: [json.loads(l) for l in open(os.path.join(data, "clue-emotion", f), encoding="utf-8") if l.strip()]
    train, test = read("valid.txt"), read("test.txt")
    m = model().fit([e["content"] for e in train], [e["label"] for e in train])
    pred = m.predict([e["content"] for e in test])
    gold = [e["label"] for e in test]
    return {"set": "clue-emotion", "accuracy": accuracy(pred, gold), "macro_f1": float(f1_score(gold, pred, average="macro"))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data"))
    ap.add_argument("--splits", default=None)
    ap.add_argument("--sets", default="banking77,clinc150,smp2017,clue-emotion")
    a = ap.parse_args()
    runs = {"banking77": lambda: banking77(a.data), "clinc150": lambda: clinc150(a.data),
            "smp2017": lambda: smp2017(a.data, a.splits), "clue-emotion": lambda: clue_emotion(a.data)}
    for name in a.sets.split(","):
        print(json.dumps(runs[name]()), flush=True)


if __name__ == "__main__":
    sys.exit(main())
