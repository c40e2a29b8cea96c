#!/usr/bin/python3
"""tokrl against its PyTorch-eager peer (peer.py), both run by this script.

For each agent (dqn, rainbow_lite, der) and network (flatten, softmoe4,
softmoe1_scaled4 by default; tokenized_avg_x4, the paper's tokenized
baseline, on request) it measures, one process at a time, with the same torch
thread count on both sides:
  updates/s    gradient updates on batch-32 samples of a replay filled by
               random play: tokrl's bench_agent BM_Update against
               peer.py --mode update;
  env steps/s  the whole training loop after min_replay (acting, env,
               replay, an update every agent.update_period steps: 4, DER
               1): `tokrl train` (its metrics.jsonl) against peer.py
               --mode train;
  max RSS      of the `tokrl train` and `peer.py --mode train` processes.
Both sides read the same resolved config (`tokrl train --print-config`)
and play tokrl's MinAtar (the peer through libtokrl_env_c.so). The network
"nature" (DQN only) is configs/dqn_atari.toml's Nature CNN: updates/s on
synthetic 84x84 frames (bench_agent BM_UpdateAtari), no env steps.

A row that fails is reported and the next one runs; --budget S starts no
new row after S seconds; --json is rewritten after every row. --repeats N
measures each row N times, tokrl and peer alternately (updates/s, then the
two training runs): the row then holds each side's median of every column
and the range of the N paired ratios (updates_ratio_min/max,
env_steps_ratio_min/max), which shows how far this machine's noise moves
the ratio.

--peer-tuned-malloc gives the peer's processes glibc malloc settings equal
to those tokrl sets for itself (core/allocator.h): with glibc's defaults
each large activation the peer allocates is mapped anew and page-faulted
in, which costs the tokenized baseline's 6.5 MB activations more than
their arithmetic.

  bench/peer/compare.py --build build            # the full table
  bench/peer/compare.py --build build --agents dqn --networks flatten --quick
"""
import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
AGENTS = {"dqn": 0, "rainbow_lite": 1, "der": 2}
# bench_agent's BM_Update network index ("nature": BM_UpdateAtari).
NETWORKS = {"flatten": 0, "softmoe4": 1, "softmoe1_scaled4": 2,
            "tokenized_avg_x4": 3, "nature": None}


# glibc malloc settings as tokrl's TuneAllocator (core/allocator.cc) makes
# them, for --peer-tuned-malloc.
TUNED_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(256 << 20),
                "MALLOC_TRIM_THRESHOLD_": str(1 << 30),
                "MALLOC_TOP_PAD_": str(64 << 20)}


def run(cmd, env=None):
    """Runs cmd to completion: (stdout, its max RSS in MiB), or raises."""
    proc = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.PIPE,
                            text=True, env=env)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed "
                           f"(exit {proc.returncode})")
    return out, usage.ru_maxrss / 1024


def resolved_config(tokrl, agent, network, sets, path):
    configs = ROOT / "configs"
    if network == "nature":
        files = [configs / f"{agent}_atari.toml"]
    else:
        files = [configs / f"{agent}_minatar.toml",
                 configs / "networks" / f"{network}.toml"]
    cmd = [str(tokrl), "train", "--print-config"]
    for f in files:
        cmd += ["-c", str(f)]
    for s in sets:
        cmd += ["--set", s]
    path.write_text(run(cmd)[0])


def tokrl_updates(build, agent, network, min_time, fast):
    # bench_agent runs on TOKRL_BENCH_DEVICE (set from --device in main);
    # its last argument: 1 = fast paths (CPU) or CUDA graphs, 0 = without.
    name = f"BM_Update/{AGENTS[agent]}/{NETWORKS[network]}"
    if network == "nature":
        name = "BM_UpdateAtari"
    out, _ = run([
        build / "bench_agent",
        f"--benchmark_filter=^{name}/{1 if fast else 0}$",
        f"--benchmark_min_time={min_time}", "--benchmark_format=json"])
    return json.loads(out)["benchmarks"][0]["updates/s"]


def tokrl_train(build, config, run_dir, min_replay):
    _, rss = run([build / "tokrl", "train", "-c", config, "--run-dir", run_dir,
                  "--quiet"])
    # Each metrics row's train/sps covers the log window that ends there.
    seconds, steps, last = 0.0, 0, 0
    with open(run_dir / "metrics.jsonl") as f:
        for line in f:
            row = json.loads(line)
            if "train/sps" not in row:
                continue
            if last >= min_replay:
                seconds += (row["step"] - last) / row["train/sps"]
                steps += row["step"] - last
            last = row["step"]
    return steps / seconds, rss


def peer(lib, config, mode, updates, threads, device, tuned_malloc=False):
    env = dict(os.environ, **TUNED_MALLOC) if tuned_malloc else None
    out, rss = run([sys.executable, HERE / "peer.py", "--config", config,
                    "--lib", lib, "--mode", mode, "--updates", updates,
                    "--threads", threads, "--device", device], env)
    return json.loads(out), rss


def measure_round(build, lib, config, agent, network, tmp, min_replay,
                  updates, min_time, fast, train, args):
    """One measurement of a row, each side in turn: a dict of its columns."""
    m = dict(tokrl_updates_per_s=tokrl_updates(build, agent, network,
                                               min_time, fast),
             peer_updates_per_s=peer(lib, config, "update", updates,
                                     args.threads, args.device,
                                     args.peer_tuned_malloc)[0][
                                         "updates_per_s"])
    if train:
        run_dir = tmp / f"run_{agent}_{network}"
        shutil.rmtree(run_dir, ignore_errors=True)
        m["tokrl_env_steps_per_s"], m["tokrl_max_rss_mib"] = tokrl_train(
            build, config, run_dir, min_replay)
        p_train, m["peer_max_rss_mib"] = peer(lib, config, "train", updates,
                                              args.threads, args.device,
                                              args.peer_tuned_malloc)
        m["peer_env_steps_per_s"] = p_train["env_steps_per_s"]
    return m


def summarize(rounds):
    """Each column's median over the rounds; with several rounds, also the
    range of the paired tokrl/peer ratios of updates/s and env steps/s."""
    row = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    if len(rounds) > 1:
        for key, name in (("updates_per_s", "updates"),
                          ("env_steps_per_s", "env_steps")):
            if f"tokrl_{key}" in rounds[0]:
                ratios = [r[f"tokrl_{key}"] / r[f"peer_{key}"] for r in rounds]
                row[f"{name}_ratio_min"] = min(ratios)
                row[f"{name}_ratio_max"] = max(ratios)
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", type=pathlib.Path, default=ROOT / "build",
                    help="tokrl build folder (tokrl, bench_agent, "
                    "libtokrl_env_c.so)")
    ap.add_argument("--agents", default="dqn,rainbow_lite,der")
    ap.add_argument("--networks", default="flatten,softmoe4,softmoe1_scaled4")
    ap.add_argument("--rows", help="agent/network pairs in this order, e.g. "
                    "dqn/nature,rainbow_lite/softmoe4 (instead of --agents "
                    "x --networks)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=8000,
                    help="env steps per training run (first 2000: warm-up; at "
                    "least 4000)")
    ap.add_argument("--updates", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=1,
                    help="measure each row this many times, tokrl and "
                    "peer alternately; medians and the paired ratios' range")
    ap.add_argument("--min-time", type=float, default=2.0,
                    help="bench_agent's --benchmark_min_time (seconds)")
    ap.add_argument("--quick", action="store_true",
                    help="tiny sizes, for the test suite")
    ap.add_argument("--json", type=pathlib.Path, help="also write rows here")
    ap.add_argument("--device", default="cpu",
                    help="cpu | cuda: where both sides train")
    ap.add_argument("--updates-only", action="store_true",
                    help="measure updates/s only (no training runs)")
    ap.add_argument("--budget", type=float, default=0,
                    help="start no new row after this many seconds (0: none)")
    ap.add_argument("--eager", action="store_true",
                    help="cuda: tokrl without CUDA graphs "
                         "(agent.cuda_graphs=false)")
    ap.add_argument("--peer-tuned-malloc", action="store_true",
                    help="run the peer with glibc malloc tuned as tokrl "
                    "tunes its own (MALLOC_MMAP_THRESHOLD_ etc.): without "
                    "it, every large activation the peer allocates is "
                    "mapped and page-faulted in anew")
    args = ap.parse_args()
    build = args.build.resolve()
    lib = build / "libtokrl_env_c.so"
    for f in (build / "tokrl", build / "bench_agent", lib):
        if not f.exists():
            sys.exit(f"compare.py: {f} not found (build tokrl with "
                     "-DTOKRL_BUILD_BENCH=ON)")
    steps, min_replay, updates, min_time = (args.steps, 2000, args.updates,
                                            args.min_time)
    if args.quick:
        steps, min_replay, updates, min_time = 600, 300, 5, 0.05
    if steps < 2 * min_replay and not args.updates_only:
        # Env steps/s are timed over the log windows after the warm-up
        # (train.log_every = min_replay): a shorter run has none.
        ap.error(f"--steps {steps}: a training run needs at least "
                 f"{2 * min_replay} env steps ({min_replay} of warm-up, then "
                 f"{min_replay} timed)")
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    os.environ["TOKRL_BENCH_THREADS"] = str(args.threads)  # bench_agent
    os.environ["TOKRL_BENCH_DEVICE"] = args.device
    sets = [f"train.total_steps={steps}", f"agent.min_replay={min_replay}",
            "agent.epsilon_decay_steps=1000", "train.eval_every=0",
            f"train.log_every={min_replay}", "train.checkpoint_every=0",
            "train.tensorboard=false", f"train.torch_threads={args.threads}",
            f"train.device={args.device}"]
    if args.eager:
        sets.append("agent.cuda_graphs=false")
    fast = not (args.eager and args.device != "cpu")
    pairs = [(a, n) for a in args.agents.split(",")
             for n in args.networks.split(",") if n != "nature" or a == "dqn"]
    if args.rows:
        pairs = [tuple(r.split("/")) for r in args.rows.split(",")]
    for pair in pairs:
        if len(pair) != 2 or pair[0] not in AGENTS or pair[1] not in NETWORKS \
                or (pair[1] == "nature" and pair[0] != "dqn"):
            ap.error(f"unknown row {'/'.join(pair)!r} (agents: "
                     f"{', '.join(AGENTS)}; networks: {', '.join(NETWORKS)}, "
                     "nature with dqn only)")
    rows = []
    start = time.monotonic()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="tokrl_peer_"))
    try:
        for agent, network in pairs:
            row = dict(agent=agent, network=network)
            rows.append(row)
            if args.budget and time.monotonic() - start > args.budget:
                row["error"] = f"not run: past the {args.budget:.0f} s budget"
                continue
            try:
                config = tmp / f"{agent}_{network}.toml"
                resolved_config(build / "tokrl", agent, network, sets, config)
                train = network != "nature" and not args.updates_only
                rounds = [measure_round(build, lib, config, agent, network,
                                        tmp, min_replay, updates, min_time,
                                        fast, train, args)
                          for _ in range(max(args.repeats, 1))]
                row.update(summarize(rounds))
            except (RuntimeError, KeyError, ValueError) as e:
                row["error"] = str(e)
            print(f"{agent}/{network}: {row}", file=sys.stderr, flush=True)
            if args.json:
                args.json.write_text(json.dumps(rows, indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"threads {args.threads}, {steps} env steps per training run "
          f"({min_replay} warm-up), {updates} peer updates, {args.device}"
          + ("; peer with tuned malloc" if args.peer_tuned_malloc else "")
          + (f"; medians of {args.repeats} alternate runs (paired "
             "ratios' ranges at the end: updates/s, env steps/s)"
             if args.repeats > 1 else ""))
    print(f"{'agent/network':32} {'updates/s tokrl peer ratio':>28} "
          f"{'env steps/s tokrl peer ratio':>30} {'max RSS MiB tokrl peer':>24}")
    for r in rows:
        print(f"{r['agent'] + '/' + r['network']:32} "
              f"{cells(r, 'updates_per_s', '9.1f')}   "
              f"{cells(r, 'env_steps_per_s', '9.0f')}   "
              f"{cells(r, 'max_rss_mib', '9.0f', ratio=False)}"
              + "".join(f"   {r[name + '_ratio_min']:.2f}-"
                        f"{r[name + '_ratio_max']:.2f}x"
                        for name in ("updates", "env_steps")
                        if name + "_ratio_min" in r)
              + (f"   {r['error']}" if "error" in r else ""))
    if any("error" in r for r in rows):
        sys.exit("compare.py: some rows failed (above)")


def cells(row, key, fmt, ratio=True):
    """'tokrl peer [ratio]' for row's tokrl_<key> and peer_<key>, '-' where
    missing."""
    t, p = row.get(f"tokrl_{key}"), row.get(f"peer_{key}")
    text = (f"{t:{fmt}}" if t is not None else f"{'-':>9}") + " " + (
        f"{p:{fmt.replace('9', '7')}}" if p is not None else f"{'-':>7}")
    if ratio:
        text += f" {t / p:5.2f}x" if t is not None and p else f" {'-':>6}"
    return text


if __name__ == "__main__":
    main()
