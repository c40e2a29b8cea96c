#!/usr/bin/python3
"""A minimal PyTorch-eager peer of tokrl: DQN, Rainbow-lite and DER on MinAtar.

Written for bench/peer/compare.py, which runs it beside tokrl in one
invocation. It is the straightforward Python program an RL researcher would
write: the same networks as tokrl's presets (MinAtar conv -> flatten + dense,
SoftMoE-4, or SoftMoE-1 x4 on PerConv tokens, linear or C51 head, for DER
dueling with NoisyNet layers), the same hyperparameters (read from tokrl's
resolved config, `tokrl train --print-config`), numpy replay (uniform, or
proportional prioritized with n-step returns), Adam, epsilon-greedy, double
Q when the config asks for it. The environment is tokrl's own MinAtar
through the C ABI in libtokrl_env_c.so (src/tokrl/capi/env_c.h), so both
sides play the same game code. For an Atari config (env id "ale/...", the
Nature CNN of configs/dqn_atari.toml) --mode update runs on synthetic frames
instead, as bench_agent's BM_UpdateAtari does.

Modes:
  update: gradient updates/s on batches sampled from a replay filled with
          random play (the same protocol as tokrl's bench_agent BM_Update).
  train:  the whole training loop; prints env steps/s after min_replay.
Prints one JSON object on stdout.

--check-network FILE instead checks that this file's network is tokrl's:
FILE (written by src/tokrl/agents/peer_network_test.cc) holds a tokrl
online network, observations and its outputs on them; the peer's network
with the same parameters must give the same outputs (exit 1 otherwise).
"""
import argparse
import ctypes
import json
import math
import resource
import time
import tomllib

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


# ---- tokrl's MinAtar through its C ABI --------------------------------------


class Env:
    def __init__(self, lib_path, env_id, seed):
        self.lib = ctypes.CDLL(lib_path)
        self.lib.tokrl_env_last_error.restype = ctypes.c_char_p
        self.lib.tokrl_env_create.argtypes = [
            ctypes.c_char_p, ctypes.c_uint64, ctypes.POINTER(ctypes.c_void_p)]
        self.lib.tokrl_env_step.argtypes = [
            ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_int32),
            ctypes.POINTER(ctypes.c_int32)]
        self.lib.tokrl_env_reset.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self.lib.tokrl_env_spec.argtypes = [
            ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int32)]
        self.handle = ctypes.c_void_p()
        self._check(self.lib.tokrl_env_create(env_id.encode(), seed,
                                              ctypes.byref(self.handle)))
        shape = (ctypes.c_int64 * 3)()
        actions = ctypes.c_int32()
        self._check(self.lib.tokrl_env_spec(self.handle, shape,
                                            ctypes.byref(actions)))
        self.obs_shape = tuple(shape)
        self.num_actions = actions.value
        self.obs = np.zeros(self.obs_shape, np.uint8)
        self._obs_ptr = self.obs.ctypes.data
        self._reward = ctypes.c_float()
        self._terminated = ctypes.c_int32()
        self._truncated = ctypes.c_int32()

    def _check(self, rc):
        if rc != 0:
            raise RuntimeError(self.lib.tokrl_env_last_error().decode())

    def reset(self):
        self._check(self.lib.tokrl_env_reset(self.handle, self._obs_ptr))
        return self.obs

    def step(self, action):
        self._check(self.lib.tokrl_env_step(
            self.handle, action, self._obs_ptr, ctypes.byref(self._reward),
            ctypes.byref(self._terminated), ctypes.byref(self._truncated)))
        return (self.obs, self._reward.value, bool(self._terminated.value),
                bool(self._truncated.value))


class SyntheticAtari:
    """Atari-shaped frames without the ALE (frame_stack x 84 x 84, Pong's 6
    actions): frame t is filled with t mod 256, an episode ends every 97
    steps, as in bench_agent's FillSynthetic."""

    def __init__(self, frame_stack):
        self.obs_shape = (frame_stack, 84, 84)
        self.num_actions = 6
        self.t = 0

    def reset(self):
        return np.full(self.obs_shape, self.t % 256, np.uint8)

    def step(self, action):
        self.t += 1
        return self.reset(), 1.0, self.t % 97 == 0, False


# ---- networks: the same shapes and ops as tokrl's QNetwork --------------------


def same_padding(size, kernel, stride):
    """TensorFlow's SAME padding (before, after) of one spatial dimension."""
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SoftMoE(nn.Module):
    """Puigcerver et al.'s Soft MoE with experts as one batched MLP."""

    def __init__(self, d, num_tokens, experts, hidden, normalize, scale_init):
        super().__init__()
        slots = max(1, math.ceil(num_tokens / experts))
        self.phi = nn.Parameter(torch.randn(d, experts, slots) /
                                math.sqrt(experts * d))
        self.normalize = normalize
        self.scale = nn.Parameter(torch.tensor([scale_init])) if normalize \
            else None
        bound1 = math.sqrt(6 / (d + hidden))
        self.w1 = nn.Parameter(torch.empty(experts, d, hidden).uniform_(
            -bound1, bound1))
        self.b1 = nn.Parameter(torch.zeros(experts, hidden))
        self.w2 = nn.Parameter(torch.empty(experts, hidden, d).uniform_(
            -bound1, bound1))
        self.b2 = nn.Parameter(torch.zeros(experts, d))

    def forward(self, x):  # x: [B, m, d]
        b, m, d = x.shape
        phi, xn = self.phi, x
        if self.normalize:  # for the logits only; slots mix the raw tokens
            xn = x / (x.norm(dim=-1, keepdim=True) + 1e-6)
            phi = phi / (phi.norm(dim=0, keepdim=True) + 1e-6) * self.scale
        n, p = phi.shape[1], phi.shape[2]
        logits = (xn.reshape(b * m, d) @ phi.reshape(d, n * p)).view(b, m,
                                                                      n * p)
        dispatch = torch.softmax(logits, dim=1)
        combine = torch.softmax(logits, dim=2)
        slots = dispatch.transpose(1, 2) @ x  # [B, n*p, d]
        slots = slots.view(b, n, p, d).permute(1, 0, 2, 3).reshape(n, b * p, d)
        h = torch.relu(torch.baddbmm(self.b1.unsqueeze(1), slots, self.w1))
        out = torch.baddbmm(self.b2.unsqueeze(1), h, self.w2)
        out = out.view(n, b, p, d).permute(1, 0, 2, 3).reshape(b, n * p, d)
        return combine @ out  # [B, m, d]


class NoisyLinear(nn.Module):
    """Factorised Gaussian NoisyNet layer (Fortunato et al. 2018): weights
    mu + sigma * f(eps_out) f(eps_in)^T, f(e) = sign(e) sqrt(|e|); the noise
    changes only on reset_noise()."""

    def __init__(self, inp, out, sigma0):
        super().__init__()
        bound = 1 / math.sqrt(inp)
        self.weight_mu = nn.Parameter(torch.empty(out, inp).uniform_(-bound,
                                                                     bound))
        self.weight_sigma = nn.Parameter(torch.full((out, inp), sigma0 * bound))
        self.bias_mu = nn.Parameter(torch.empty(out).uniform_(-bound, bound))
        self.bias_sigma = nn.Parameter(torch.full((out,), sigma0 * bound))
        self.register_buffer("eps_in", torch.zeros(inp))
        self.register_buffer("eps_out", torch.zeros(out))
        self.reset_noise()

    @staticmethod
    def _noise(n, like):
        e = torch.randn(n, device=like.device)
        return e.sign() * e.abs().sqrt()

    def reset_noise(self):
        self.eps_in.copy_(self._noise(self.eps_in.numel(), self.eps_in))
        self.eps_out.copy_(self._noise(self.eps_out.numel(), self.eps_out))

    def forward(self, x):
        if not self.training:  # tokrl's deterministic evaluation
            return F.linear(x, self.weight_mu, self.bias_mu)
        return F.linear(
            x, self.weight_mu + self.weight_sigma * torch.outer(self.eps_out,
                                                                self.eps_in),
            self.bias_mu + self.bias_sigma * self.eps_out)


class QNetwork(nn.Module):
    # The Nature CNN's convs: (out channels, kernel, stride).
    NATURE = ((32, 8, 4), (64, 4, 2), (64, 3, 1))

    def __init__(self, obs_shape, num_actions, net, num_atoms):
        super().__init__()
        c, h, w = obs_shape
        self.encoder = net["encoder"]
        if self.encoder == "minatar":
            channels = net.get("minatar_channels", 16)
            self.conv = nn.Conv2d(c, channels, 3, padding=1)
        elif self.encoder == "nature" and net["padding"] == "same":
            self.pads = []
            for i, (channels, k, stride) in enumerate(self.NATURE):
                setattr(self, f"conv{i + 1}", nn.Conv2d(c, channels, k, stride))
                self.pads.append(same_padding(w, k, stride) +
                                 same_padding(h, k, stride))
                c, h, w = channels, (h + stride - 1) // stride, \
                    (w + stride - 1) // stride
        else:
            raise SystemExit(f"peer: encoder {self.encoder!r} (padding "
                             f"{net['padding']!r}) not implemented")
        hidden = net["hidden"] * net["scale"]
        self.penultimate = net["penultimate"]
        m = h * w
        if self.penultimate == "dense":
            self.dense = nn.Linear(m * channels, hidden)
            width = hidden
        elif self.penultimate == "softmoe":
            self.softmoe = SoftMoE(channels, m, net["experts"], hidden,
                                   net["normalize"], net["softmoe_scale_init"])
            width = m * channels
        elif self.penultimate in ("tokenized_avg", "tokenized_sum") and \
                net["tokenizer"] == "perconv":
            self.dense = nn.Linear(channels, hidden)  # on every token
            width = hidden
        else:
            raise SystemExit(f"peer: penultimate {self.penultimate!r} "
                             "not implemented")
        if net.get("extra_layer", False):
            raise SystemExit("peer: network.extra_layer not implemented")
        self.num_actions = num_actions
        self.num_atoms = num_atoms

        def layer(out):
            if net.get("noisy", False):
                return NoisyLinear(width, out, net["noisy_sigma0"])
            return nn.Linear(width, out)
        self.head = layer(num_actions * num_atoms)  # the advantage stream
        self.value = layer(num_atoms) if net.get("dueling", False) else None

    def reset_noise(self):
        for m in self.modules():
            if isinstance(m, NoisyLinear):
                m.reset_noise()

    def forward(self, obs):  # uint8 [B, C, H, W]
        if self.encoder == "minatar":
            x = torch.relu(self.conv(obs.float()))
        else:
            x = obs.float() * (1 / 255)
            for i, pad in enumerate(self.pads):
                x = torch.relu(getattr(self, f"conv{i + 1}")(F.pad(x, pad)))
        tokens = x.flatten(2).transpose(1, 2)  # PerConv: [B, h*w, d]
        if self.penultimate == "dense":
            z = torch.relu(self.dense(tokens.reshape(tokens.shape[0], -1)))
        elif self.penultimate == "tokenized_avg":
            z = torch.relu(self.dense(tokens)).mean(1)
        elif self.penultimate == "tokenized_sum":
            z = torch.relu(self.dense(tokens)).sum(1)
        else:
            z = self.softmoe(tokens).flatten(1)
        out = self.head(z).view(-1, self.num_actions, self.num_atoms)
        if self.value is None:
            return out
        return (self.value(z).view(-1, 1, self.num_atoms) + out -
                out.mean(1, keepdim=True))


# ---- replay: uniform or proportional prioritized, n-step ------------------------


class Replay:
    def __init__(self, capacity, obs_shape, n_step, gamma, prioritized, alpha,
                 beta, priority_eps, rng):
        self.capacity, self.n, self.gamma = capacity, n_step, gamma
        self.obs = np.zeros((capacity,) + obs_shape, np.uint8)
        self.next_obs = np.zeros((capacity,) + obs_shape, np.uint8)
        self.action = np.zeros(capacity, np.int64)
        self.reward = np.zeros(capacity, np.float32)
        self.terminated = np.zeros(capacity, np.bool_)
        self.done = np.zeros(capacity, np.bool_)
        self.prioritized, self.alpha, self.beta = prioritized, alpha, beta
        self.priority_eps = priority_eps
        self.priority = np.zeros(capacity, np.float64)
        self.max_priority = 1.0
        self.size = 0
        self.pos = 0
        self.rng = rng

    def add(self, obs, action, reward, terminated, truncated, next_obs):
        i = self.pos
        self.obs[i], self.next_obs[i] = obs, next_obs
        self.action[i], self.reward[i] = action, reward
        self.terminated[i], self.done[i] = terminated, terminated or truncated
        self.priority[i] = self.max_priority
        self.pos = (self.pos + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def _valid(self):
        # Start indices whose n transitions are all written (the newest n-1
        # are not, unless an episode ends inside them; kept simple).
        valid = np.arange(self.size)
        if self.size == self.capacity:
            newest = (self.pos - np.arange(1, self.n)) % self.capacity
            return np.setdiff1d(valid, newest)
        return valid[: max(1, self.size - self.n + 1)]

    def sample(self, batch_size):
        valid = self._valid()
        if self.prioritized:
            p = (self.priority[valid] + self.priority_eps) ** self.alpha
            cdf = np.cumsum(p)
            u = (np.arange(batch_size) + self.rng.random(batch_size)) * (
                cdf[-1] / batch_size)
            idx = valid[np.minimum(np.searchsorted(cdf, u), len(valid) - 1)]
            probs = (self.priority[idx] + self.priority_eps) ** self.alpha / \
                cdf[-1]
            weights = (len(valid) * probs) ** -self.beta
            weights /= weights.max()
        else:
            idx = valid[self.rng.integers(0, len(valid), batch_size)]
            weights = np.ones(batch_size)
        # n-step: rewards until the first episode end inside the window.
        steps = (idx[:, None] + np.arange(self.n)[None, :]) % self.capacity
        done = self.done[steps]
        alive = np.cumprod(np.concatenate(
            [np.ones((batch_size, 1), bool), ~done[:, :-1]], 1), 1)
        k = alive.sum(1)
        last = steps[np.arange(batch_size), k - 1]
        returns = (self.reward[steps] * alive *
                   self.gamma ** np.arange(self.n)).sum(1)
        discounts = self.gamma ** k * (~self.terminated[last])
        return dict(idx=idx, obs=self.obs[idx], action=self.action[idx],
                    returns=returns.astype(np.float32),
                    discounts=discounts.astype(np.float32),
                    next_obs=self.next_obs[last],
                    weights=weights.astype(np.float32))

    def update_priorities(self, idx, priorities):
        self.priority[idx] = priorities
        self.max_priority = max(self.max_priority, float(priorities.max()))


# ---- agent ------------------------------------------------------------------------


def c51_q(logits, support):
    """Expected values [B, A] of C51 logits [B, A, atoms]."""
    return (torch.softmax(logits, -1) * support).sum(-1)


class Agent:
    def __init__(self, cfg, obs_shape, num_actions, device):
        a = cfg["agent"]
        self.device = device
        self.c51 = a["type"] == "rainbow"
        atoms = a["num_atoms"] if self.c51 else 1
        self.online = QNetwork(obs_shape, num_actions, cfg["network"], atoms)
        self.target = QNetwork(obs_shape, num_actions, cfg["network"], atoms)
        self.online.to(device)
        self.target.to(device)
        self.target.load_state_dict(self.online.state_dict())
        for p in self.target.parameters():
            p.requires_grad_(False)
        self.opt = torch.optim.Adam(self.online.parameters(), lr=a["lr"],
                                    eps=a["adam_eps"])
        self.support = torch.linspace(a["v_min"], a["v_max"], atoms,
                                      device=device)
        self.grad_clip = a.get("grad_clip_norm", 0)
        self.loss_type = a["loss"]
        self.double_q = a["double_q"]
        self.noisy = cfg["network"].get("noisy", False)
        self.num_actions = num_actions

    def q(self, net, obs):
        out = net(obs)
        if self.c51:
            return c51_q(out, self.support), out
        return out.squeeze(-1), out

    def act(self, obs, epsilon, rng):
        if self.noisy:  # fresh noise every acting step, as tokrl
            with torch.no_grad():
                self.online.reset_noise()
        if rng.random() < epsilon:
            return int(rng.integers(self.num_actions))
        with torch.no_grad():
            q, _ = self.q(self.online,
                          torch.from_numpy(obs).unsqueeze(0).to(self.device))
        return int(q.argmax(1))

    def update(self, batch):
        def t(key):
            return torch.from_numpy(batch[key]).to(self.device)
        obs, next_obs, actions = t("obs"), t("next_obs"), t("action")
        returns, discounts, weights = t("returns"), t("discounts"), t("weights")
        if self.noisy:  # fresh noise for both networks every update
            with torch.no_grad():
                self.online.reset_noise()
                self.target.reset_noise()
        q, logits = self.q(self.online, obs)
        rows = torch.arange(len(actions), device=self.device)
        with torch.no_grad():
            next_q, next_logits = self.q(self.target, next_obs)
            # Double Q: the online network picks the next action.
            next_a = (self.q(self.online, next_obs)[0] if self.double_q
                      else next_q).argmax(1)
            if self.c51:
                probs = torch.softmax(next_logits[rows, next_a], -1)
                tz = (returns[:, None] + discounts[:, None] *
                      self.support[None, :]).clamp(self.support[0],
                                                   self.support[-1])
                dz = self.support[1] - self.support[0]
                w = (1 - (tz[:, None, :] - self.support[None, :, None]).abs()
                     / dz).clamp(0, 1)
                target = (w * probs[:, None, :]).sum(-1)
            else:
                target = returns + discounts * next_q[rows, next_a]
        if self.c51:
            per_sample = -(target * torch.log_softmax(
                logits[rows, actions], -1)).sum(-1)
            priorities = per_sample.detach()
        else:
            diff = target - q[rows, actions]
            per_sample = diff.square() if self.loss_type == "mse" else \
                F.huber_loss(q[rows, actions], target, reduction="none")
            priorities = diff.detach().abs()
        loss = (weights * per_sample).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.online.parameters(), self.grad_clip)
        self.opt.step()
        return priorities.cpu().numpy()

    def sync(self):
        self.target.load_state_dict(self.online.state_dict())


# tokrl parameter name prefixes -> the peer's (first match wins).
TOKRL_NAMES = {"encoder.conv.conv.": "conv.", "encoder.conv1.conv.": "conv1.",
               "encoder.conv2.conv.": "conv2.", "encoder.conv3.conv.": "conv3.",
               "penultimate.dense.": "dense.",
               "penultimate.experts.": "softmoe.", "penultimate.": "softmoe.",
               "head.advantage.": "head.", "head.value.": "value."}


def check_network(cfg, path, tolerance=1e-5):
    saved = torch.jit.load(path)
    obs, want_q = saved.obs, saved.q
    state = {}
    # The NoisyNet layers' noise buffers too (tokrl's other buffers, such
    # as the C51 support, have no counterpart in the peer's module).
    noise = [(n, b) for n, b in saved.online.named_buffers()
             if n.endswith((".eps_in", ".eps_out"))]
    for name, value in list(saved.online.named_parameters()) + noise:
        prefix = next((p for p in TOKRL_NAMES if name.startswith(p)), None)
        if prefix is None:
            raise SystemExit(f"peer: tokrl parameter {name} has no "
                             "counterpart in the peer's network")
        state[TOKRL_NAMES[prefix] + name[len(prefix):]] = value.detach()
    a = cfg["agent"]
    c51 = a["type"] == "rainbow"
    net = QNetwork(tuple(obs.shape[1:]), want_q.shape[1], cfg["network"],
                   a["num_atoms"] if c51 else 1)
    net.load_state_dict(state, strict=True)  # every peer parameter set
    with torch.no_grad():
        out = net(obs)
        diffs = []
        if c51:
            support = torch.linspace(a["v_min"], a["v_max"], a["num_atoms"])
            diffs.append((out - saved.logits).abs().max())
            q = c51_q(out, support)
        else:
            q = out.squeeze(-1)
        diffs.append((q - want_q).abs().max())
    worst = float(max(diffs))
    print(json.dumps({"max_abs_diff": worst, "tolerance": tolerance}))
    if not worst <= tolerance:
        raise SystemExit(f"peer: the network differs from tokrl's (max abs "
                         f"difference {worst:.3g} > {tolerance})")


def fill_random(env, replay, steps, rng):
    obs = env.reset().copy()
    for _ in range(steps):
        a = int(rng.integers(env.num_actions))
        next_obs, r, term, trunc = env.step(a)
        replay.add(obs, a, r, term, trunc, next_obs)
        obs = env.reset().copy() if term or trunc else next_obs.copy()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True,
                    help="tokrl's resolved config, the TOML that "
                    "`tokrl train --print-config` prints")
    ap.add_argument("--lib", help="path to libtokrl_env_c.so (update, "
                    "train)")
    ap.add_argument("--check-network", metavar="FILE",
                    help="compare FILE's tokrl network with the peer's "
                    "(see the module docstring) and exit")
    ap.add_argument("--mode", choices=["update", "train"], default="update")
    ap.add_argument("--updates", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="cpu | cuda")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with open(args.config, "rb") as f:
        cfg = tomllib.load(f)
    if args.check_network:
        check_network(cfg, args.check_network)
        return
    if not args.lib:
        ap.error("--lib is required for --mode update and train")
    seed = cfg["train"]["seed"]
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    a, r = cfg["agent"], cfg["replay"]
    capacity = r["capacity"]
    if cfg["env"]["id"].startswith("ale/"):
        if args.mode != "update":
            raise SystemExit("peer: Atari configs run --mode update only "
                             "(synthetic frames)")
        env = SyntheticAtari(a["frame_stack"])
        capacity = min(capacity, 20000)  # as BM_UpdateAtari
    else:
        env = Env(args.lib, cfg["env"]["id"], seed)
    replay = Replay(capacity, env.obs_shape, a["n_step"], a["gamma"],
                    r["prioritized"], r["alpha"], r["beta"], r["priority_eps"],
                    rng)
    agent = Agent(cfg, env.obs_shape, env.num_actions,
                  torch.device(args.device))
    result = {"variant": cfg["network"]["penultimate"], "mode": args.mode}
    if args.mode == "update":
        fill_random(env, replay, 2000, rng)
        for _ in range(10):  # warm-up, as google-benchmark's first runs
            agent.update(replay.sample(a["batch_size"]))
        start = time.perf_counter()
        for _ in range(args.updates):
            batch = replay.sample(a["batch_size"])
            pri = agent.update(batch)
            if r["prioritized"]:
                replay.update_priorities(batch["idx"], pri)
        if args.device != "cpu":
            torch.cuda.synchronize()
        result["updates_per_s"] = args.updates / (time.perf_counter() - start)
    else:
        total = cfg["train"]["total_steps"]
        obs = env.reset().copy()
        start = None
        credit = 0
        for step in range(total):
            if step == a["min_replay"]:
                start = time.perf_counter()
            frac = min(1.0, max(0.0, (step - a["min_replay"]) /
                                max(1, a["epsilon_decay_steps"])))
            eps = a["epsilon_start"] + frac * (a["epsilon_end"] -
                                               a["epsilon_start"])
            action = agent.act(obs, eps, rng)
            next_obs, rew, term, trunc = env.step(action)
            replay.add(obs, action, rew, term, trunc, next_obs)
            obs = env.reset().copy() if term or trunc else next_obs.copy()
            if step + 1 >= a["min_replay"]:
                credit += 1
                while credit >= a["update_period"]:
                    credit -= a["update_period"]
                    batch = replay.sample(a["batch_size"])
                    pri = agent.update(batch)
                    if r["prioritized"]:
                        replay.update_priorities(batch["idx"], pri)
            if (step + 1) % a["target_update_period"] == 0:
                agent.sync()
        result["env_steps_per_s"] = (total - a["min_replay"]) / (
            time.perf_counter() - start)
    result["max_rss_mib"] = resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main()
