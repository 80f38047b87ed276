# Reference numbers for the desk's late fusion (src/apps/contact-centre/understanding/fusion.ts, dense-head.ts),
# computed independently with NumPy / SciPy / scikit-learn and saved as test/fixtures/sklearn/desk-fusion.json:
# - fused probabilities softmax((log p + w log q) / T) for a few (w, T);
# - the validation choice: accuracy of each grid weight (ties -> smaller w), then T minimising the fused NLL
#   (scipy.optimize.minimize_scalar over log T in [log 0.05, log 20]);
# - a dense head trained to convergence: scikit-learn LogisticRegression (multinomial, lbfgs) on standardised
#   features with C = 1 / (l2 * N), i.e. mean cross-entropy + l2/2 |W|^2, intercept unpenalised — its probabilities
#   on held-out points, which DenseHead.train must approach.
# usage: /work/venv/bin/python dev/contact-centre/make-fusion-reference.py
import json
import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.linear_model import LogisticRegression

rng = np.random.default_rng(20261207)
GRID = [0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1]


def fuse(p, q, w, t):
    return softmax((np.log(p) + w * np.log(q)) / t, axis=-1)


# Fusion arithmetic.
C = 5
p = rng.dirichlet(np.ones(C), size=4)
q = rng.dirichlet(np.ones(C), size=4)
cases = []
for w, t in [(0, 1), (0.3, 1), (1, 0.7), (0.5, 2.5)]:
    cases.append({"weight": w, "temperature": t, "fused": fuse(p, q, w, t).tolist()})

# The validation choice: a sparse model right on 60% of rows, a dense one right on another overlapping set.
N = 60
gold = rng.integers(0, C, size=N)
def noisy(right_share):
    logits = rng.normal(0, 1, size=(N, C))
    right = rng.random(N) < right_share
    logits[np.arange(N), gold] += np.where(right, 2.5, 0.0)
    return softmax(logits, axis=-1)
sp, dp = noisy(0.6), noisy(0.7)
acc = [float((fuse(sp, dp, w, 1).argmax(1) == gold).mean()) for w in GRID]
best = GRID[int(np.argmax(acc))]  # argmax takes the first maximum: the smallest w among ties
def nll(logt):
    f = fuse(sp, dp, best, np.exp(logt))
    return -np.log(np.maximum(f[np.arange(N), gold], 1e-12)).sum()
res = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20)), method="bounded", options={"xatol": 1e-10})
choice = {"sparse": sp.tolist(), "dense": dp.tolist(), "gold": gold.tolist(), "grid": GRID, "accuracy": acc,
          "weight": best, "temperature": float(np.exp(res.x))}

# A dense head trained to convergence.
D, K, n = 6, 3, 150
centres = rng.normal(0, 1.5, size=(K, D))
y = rng.integers(0, K, size=n)
X = centres[y] + rng.normal(0, 1.0, size=(n, D)) * rng.uniform(0.5, 3, size=D) + rng.normal(0, 4, size=D)
queries = centres[rng.integers(0, K, size=6)] + rng.normal(0, 1.2, size=(6, D))
l2 = 1e-2
mean, std = X.mean(0), X.std(0)
lr = LogisticRegression(C=1 / (l2 * n), tol=1e-12, max_iter=100000)
lr.fit((X - mean) / std, y)
dense = {"x": X.tolist(), "y": y.tolist(), "l2": l2, "queries": queries.tolist(),
         "probs": lr.predict_proba((queries - mean) / std).tolist(), "mean": mean.tolist(), "std": std.tolist()}

out = {"made_by": "dev/contact-centre/make-fusion-reference.py (NumPy, SciPy, scikit-learn)", "sparse": p.tolist(), "dense": q.tolist(),
       "cases": cases, "choice": choice, "dense_head": dense}
with open("test/fixtures/sklearn/desk-fusion.json", "w") as f:
    json.dump(out, f)
print("acc per w", acc, "->", best, "T", float(np.exp(res.x)))
