#!/usr/bin/env python3
"""Writes tests/golden/stats_reference.json: reference values for tokrl/stats.

Reference implementations (not tokrl code): scipy.stats.trim_mean for the
IQM, numpy.percentile (default "linear") for percentiles, numpy.linspace,
scipy.stats.mannwhitneyu for the probability of improvement, and rliable's
definitions (Agarwal et al. 2021) of mean / median / optimality gap /
performance profile written out in numpy. Not run by CI; rerun by hand:

  python3 tools/gen_stats_golden.py > tests/golden/stats_reference.json
"""
import json
import sys

import numpy as np
import scipy
import scipy.stats

rs = np.random.RandomState(20240601)


def matrix(runs, tasks, scale=1.0, decimals=2, offset=0.0):
  return np.round(rs.normal(offset, scale, size=(runs, tasks)), decimals)


matrices = {
    "single": np.array([[3.5]]),
    "two_entries": np.array([[1.0], [4.0]]),
    "ties_4x3": np.array([[1, 2, 2], [2, 2, 3], [1, 1, 3], [0, 2, 2]],
                         dtype=float),
    "normal_5x4": matrix(5, 4),
    "negative_3x7": -np.abs(matrix(3, 7, scale=10, decimals=1)),
    "wide_3x3": matrix(3, 3, scale=100, decimals=0),
    "rounded_10x6": matrix(10, 6, scale=0.5, decimals=1, offset=0.7),
}

taus = [-1.0, 0.0, 0.25, 0.5, 1.0, 2.0]


def aggregates(x):
  task_means = x.mean(axis=0)
  return {
      "mean": float(task_means.mean()),
      "median": float(np.median(task_means)),
      "iqm": float(scipy.stats.trim_mean(x, 0.25, axis=None)),
      "optimality_gap": float(1.0 - np.minimum(x, 1.0).mean()),
      "profile": [float((x > t).mean()) for t in taus],
  }


def improvement(x, y):
  probs = []
  for t in range(x.shape[1]):
    if np.array_equal(x[:, t], y[:, t]):
      probs.append(0.5)
      continue
    u, _ = scipy.stats.mannwhitneyu(x[:, t], y[:, t], alternative="greater")
    probs.append(u / (x.shape[0] * y.shape[0]))
  return float(np.mean(probs))


out = {
    "generator": "tools/gen_stats_golden.py",
    "numpy": np.__version__,
    "scipy": scipy.__version__,
    "taus": taus,
    "matrices": [],
    "improvement": [],
    "percentiles": [],
    "linspace": [],
}
for name, x in matrices.items():
  entry = {"name": name, "rows": x.tolist()}
  entry.update(aggregates(x))
  out["matrices"].append(entry)

pairs = [("normal_5x4", matrix(7, 4)), ("ties_4x3", np.array(
    [[1, 2, 3], [2, 2, 2], [0, 1, 3]], dtype=float)),
         ("rounded_10x6", matrix(4, 6, scale=0.5, decimals=1, offset=0.6))]
for name, y in pairs:
  x = matrices[name]
  out["improvement"].append({
      "x": x.tolist(), "y": y.tolist(),
      "p_x_greater_y": improvement(x, y),
      "p_y_greater_x": improvement(y, x),
  })

qs = [0.0, 2.5, 10.0, 25.0, 50.0, 66.6, 97.5, 100.0]
for values in (rs.normal(size=7), np.round(rs.normal(size=20), 1),
               rs.exponential(size=200), np.array([4.0])):
  out["percentiles"].append({
      "values": values.tolist(), "q": qs,
      "result": [float(np.percentile(values, q)) for q in qs],
  })

for lo, hi, n in ((0.0, 8.0, 81), (-1.0, 2.0, 7), (0.1, 0.3, 3)):
  out["linspace"].append({"lo": lo, "hi": hi, "count": n,
                          "result": np.linspace(lo, hi, n).tolist()})

json.dump(out, sys.stdout, indent=1)
sys.stdout.write("\n")
