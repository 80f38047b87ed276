#!/usr/bin/env python3
"""Reference values for src/tokenizers/sparse-ngrams.ts from scikit-learn itself: two TfidfVectorizers as
dev/contact-centre/baseline.py builds them (word 1-2 with token_pattern (?u)\\b\\w+\\b, char_wb 1-5; sublinear tf,
smooth idf, l2) fitted on a small mixed English/Chinese corpus — once with min_df=1 and no cap, once with min_df=2 and
max_features — and the vectors of held-out texts as {term: weight} maps. The max_features cut-offs are checked to
fall between different total counts (sklearn's argsort is not stable, so a tie at the cut-off has no defined answer).
Writes test/fixtures/sklearn/sparse-ngrams.json. Dev script only (pip install scikit-learn).
usage: python3 dev/bert/make-sparse-ngrams-reference.py
"""
import json, os, sklearn
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

train = [
    "I lost my card yesterday, please block it!",
    "My card was declined at the shop",
    "How do I top up my account with a card?",
    "Top-up failed twice; the app says PENDING",
    "Can I change my PIN at an ATM?",
    "why was I charged a fee for the ATM withdrawal",
    "我的银行卡丢了，请帮我挂失",
    "卡被拒了 怎么办",
    "查询一下明天北京的天气",
    "北京明天会下雨吗",
    "给我讲个笑话吧",
    "播放周杰伦的歌  晴天",
    "Ünïcödé café naïve déjà-vu",
    "the the the card card ATM",
]
held_out = [
    "my card was blocked at the ATM yesterday",
    "北京的天气怎么样",
    "a completely unseen sentence",
    "晴天 card 卡",
    "",
]

def vectorizers(min_df, cap):
    return [("word", [1, 2], TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b", min_df=min_df, max_features=cap)),
            ("char_wb", [1, 5], TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 5), sublinear_tf=True, min_df=min_df, max_features=cap))]

cases = []
for min_df, caps in ((1, (None, None)), (2, (8, 40))):
    analyzers = []
    for (name, rng, v), cap in zip(vectorizers(min_df, None), caps):
        if cap is not None:
            full = vectorizers(min_df, None)[[n for n, _, _ in vectorizers(1, None)].index(name)][2]
            X = full.fit_transform(train)
            counts = {}
            an = full.build_analyzer()
            for t in train:
                for g in an(t):
                    if g in full.vocabulary_:
                        counts[g] = counts.get(g, 0) + 1
            tot = sorted(counts.values(), reverse=True)
            assert len(tot) > cap, f"{name}: only {len(tot)} terms; pick a smaller cap"
            while tot[cap - 1] == tot[cap]:
                cap -= 1  # the largest cap not cutting through a tie
            v.set_params(max_features=cap)
        v.fit(train)
        names = list(v.get_feature_names_out())
        X = v.transform(held_out).toarray()
        assert cap is None or len(names) == cap
        analyzers.append({
            "analyzer": name, "ngram_range": rng, "max_features": cap, "terms": names,
            "idf": [float(x) for x in v.idf_],
            "vectors": [{names[j]: float(row[j]) for j in np.nonzero(row)[0]} for row in X],
        })
    cases.append({"min_df": min_df, "analyzers": analyzers})

out = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "sklearn", "sparse-ngrams.json")
with open(out, "w", encoding="utf-8") as f:
    json.dump({"made_by": "dev/bert/make-sparse-ngrams-reference.py", "sklearn": sklearn.__version__, "train": train, "held_out": held_out,
               "cases": cases}, f, ensure_ascii=False, indent=1)
print(out, sum(len(a["terms"]) for c in cases for a in c["analyzers"]), "terms")
