#!/usr/bin/python3
"""Self time per LibTorch op in a trace written by TOKRL_TRACE (bench_agent).

  TOKRL_TRACE=/tmp/tr ./build/bench_agent --benchmark_filter=BM_Update/0/1
  bench/trace_summary.py /tmp/tr/dqn_softmoe4.trace --per 20

Events nest (an op calls others); an op's self time is its duration minus
its direct children's. --per divides totals by the number of updates traced.
"""
import argparse
import collections
import json


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace")
    ap.add_argument("--per", type=float, default=1.0,
                    help="divide times and counts by this (updates traced)")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    with open(args.trace) as f:
        events = [e for e in json.load(f) if e.get("ph") == "X"]
    by_thread = collections.defaultdict(list)
    for e in events:
        by_thread[e.get("tid")].append(e)
    self_us = collections.Counter()
    calls = collections.Counter()
    total = 0.0
    for evs in by_thread.values():
        evs.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []  # [end, name, child time]
        for e in evs:
            while stack and e["ts"] >= stack[-1][0] - 1e-9:
                end, name, child, dur = stack.pop()
                self_us[name] += dur - child
            if stack:
                stack[-1][2] += e["dur"]
            else:
                total += e["dur"]
            calls[e["name"]] += 1
            stack.append([e["ts"] + e["dur"], e["name"], 0.0, e["dur"]])
        while stack:
            end, name, child, dur = stack.pop()
            self_us[name] += dur - child
    print(f"total {total / args.per / 1000:.3f} ms per update "
          f"({len(events) / args.per:.0f} ops)")
    print(f"{'self ms':>9} {'share':>6} {'calls':>7}  op")
    for name, us in self_us.most_common(args.top):
        print(f"{us / args.per / 1000:9.3f} {us / total:6.1%} "
              f"{calls[name] / args.per:7.1f}  {name}")


if __name__ == "__main__":
    main()
