"""Discrete SAC on Four Rooms in plain PyTorch: the baseline for jaxcurr's JAX implementation.

One file, one run after another (CleanRL style). Discrete SAC (Christodoulou 2019,
arXiv:1910.07207) with the Four Rooms hyperparameters of Nilabh & Sinha Choudhury ("Efficiently
Managing Exploration and Gradient Stability in Deep Policy Gradient Methods", Table 1): Adam
3e-4, gamma 0.99, tau 0.005, batch 256, one hidden layer of 256 ReLU, clipped double Q with
target networks, temperature tuned towards the target entropy ``0.5 * log 4`` from alpha 1,
a 1e4 replay buffer, 5,000 uniformly random steps before learning, one update per env step.

* critic: ``y = r + gamma (1 - term) sum_a' pi(a'|s') [min_i Qt_i(s', a') - alpha log pi(a'|s')]``,
  loss ``sum_i (Q_i(s, a) - y)^2`` (batch mean);
* actor: ``sum_a pi(a|s) [c log pi(a|s) - min_i Q_i(s, a)]`` with ``c = alpha`` (``c = alpha r``
  with GrAdE);
* temperature: ``-sum_a pi(a|s) alpha (log pi(a|s) + H_target)`` in ``log alpha``.

Variants (the paper's four): ``plain``; ``grokfast`` (Grokfast-EMA, ``g + 2 mu``,
``mu <- 0.98 mu + 0.02 g`` starting at the first gradient, on actor and critic gradients);
``grade`` (GrAdE, ``r = ema / max ema`` of the actor gradient's sum of per-tensor L2 norms,
beta 0.9, measured on the raw gradient of the previous actor update); ``both``.

Evaluation (paper: the argmax action) is EXACT: the expected discounted return from the start of
the argmax policy, and of the stochastic policy, by finite-horizon policy evaluation on this
file's transition table, not a noisy rollout.

Usage::

  python benchmarks/torch_baselines/sac_fourrooms.py --variant plain --seed 0 --episodes 1000 \
      [--max-steps N]

prints a stats line every ``--log-every`` episodes and, last, one JSON line.
"""

import argparse
import copy
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

VARIANTS = {"plain": (False, False), "grokfast": (True, False), "grade": (False, True),
            "both": (True, True)}  # name -> (grokfast, grade)


@dataclass(frozen=True)
class Config:
    """Hyperparameters (paper Table 1; docs/reference_facts.md §7)."""

    lr: float = 3e-4
    gamma: float = 0.99
    tau: float = 0.005
    batch_size: int = 256
    hidden: int = 256
    buffer_size: int = 10_000
    initial_alpha: float = 1.0
    target_entropy_scale: float = 0.5  # H_target = scale * log(num_actions)
    random_steps: int = 5_000
    grokfast_alpha: float = 0.98
    grokfast_lamb: float = 2.0
    grade_beta: float = 0.9
    eval_every: int = 10  # episodes between exact greedy evaluations
    log_every: int = 50


class FourRoomsEnv:
    """Four Rooms (paper's MDP): 11x11, 17 walls, slip 0.8/0.1/0.1, -1 per step, 0 at the goal.

    ``x`` = column, ``y`` = row, up is ``+y``; actions 0 up, 1 down, 2 left, 3 right. Moves are
    clipped to the grid and a move into a wall stays put. Start (0, 0), goal (10, 10); the
    episode terminates at the goal and is truncated after ``max_steps`` steps. States are the
    104 free cells in ``(x, y)`` lexicographic order; the observation is their one-hot.
    """

    walls = ((0, 5), (2, 5), (3, 5), (4, 5), (5, 0), (5, 2), (5, 3), (5, 4), (5, 5), (5, 6),
             (5, 7), (5, 9), (5, 10), (6, 4), (7, 4), (9, 4), (10, 4))
    deltas = ((0, 1), (0, -1), (-1, 0), (1, 0))
    perpendicular = ((2, 3), (2, 3), (0, 1), (0, 1))
    num_actions = 4

    def __init__(self, rng: np.random.Generator, slip_prob: float = 0.2, max_steps: int = 459,
                 start: tuple[int, int] = (0, 0), goal: tuple[int, int] = (10, 10)):
        self.rng, self.slip_prob, self.max_steps = rng, slip_prob, max_steps
        free = np.ones((11, 11), bool)
        free[tuple(np.array(self.walls).T)] = False
        self.cells = np.argwhere(free)
        self.num_states = len(self.cells)
        index = np.full((11, 11), -1)
        index[self.cells[:, 0], self.cells[:, 1]] = np.arange(self.num_states)
        self.next_state = np.empty((self.num_states, 4), np.int64)  # [s, move made] -> s'
        for s, (x, y) in enumerate(self.cells):
            for move, (dx, dy) in enumerate(self.deltas):
                nx, ny = min(max(x + dx, 0), 10), min(max(y + dy, 0), 10)
                self.next_state[s, move] = index[nx, ny] if free[nx, ny] else s
        self.start, self.goal = index[start], index[goal]
        self.state, self.time = self.start, 0

    def move_probs(self, action: int) -> np.ndarray:
        """``P(move made | action)``: ``1 - slip`` intended, ``slip / 2`` each perpendicular."""
        p = np.zeros(4)
        p[action] = 1 - self.slip_prob
        p[list(self.perpendicular[action])] += self.slip_prob / 2
        return p

    def reset(self) -> int:
        self.state, self.time = self.start, 0
        return self.state

    def step(self, action: int) -> tuple[int, float, bool, bool]:
        """Returns ``(next state, reward, terminated, truncated)``."""
        u = self.rng.random()
        if u < 1 - self.slip_prob:
            move = action
        else:
            move = self.perpendicular[action][int(u >= 1 - self.slip_prob / 2)]
        self.state = int(self.next_state[self.state, move])
        self.time += 1
        terminated = self.state == self.goal
        return self.state, 0.0 if terminated else -1.0, terminated, self.time >= self.max_steps

    def table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``P[s, a, s']``, expected reward ``[s, a]`` and the terminal mask ``[s]``."""
        probs = np.zeros((self.num_states, 4, self.num_states))
        for a in range(4):
            for move, p in enumerate(self.move_probs(a)):
                probs[np.arange(self.num_states), a, self.next_state[:, move]] += p
        terminal = np.arange(self.num_states) == self.goal
        return probs, probs[:, :, self.goal] - 1.0, terminal

    def policy_return(self, policy: np.ndarray, gamma: float) -> float:
        """Exact expected discounted return from the start of ``policy[s, a]`` (probabilities)."""
        probs, reward, terminal = self.table()
        p_pi, r_pi = np.einsum("sa,sat->st", policy, probs), (policy * reward).sum(1)
        v = np.zeros(self.num_states)
        for _ in range(self.max_steps):  # V_k = r + gamma P V_{k-1}, 0 at the goal
            v = np.where(terminal, 0.0, r_pi + gamma * p_pi @ v)
        return float(v[self.start])


class ReplayBuffer:
    """Ring buffer of preallocated tensors; uniform sampling with replacement."""

    def __init__(self, capacity: int, obs_dim: int):
        self.obs = torch.zeros(capacity, obs_dim)
        self.next_obs = torch.zeros(capacity, obs_dim)
        self.action = torch.zeros(capacity, dtype=torch.int64)
        self.reward = torch.zeros(capacity)
        self.terminated = torch.zeros(capacity)
        self.capacity, self.size, self.pos = capacity, 0, 0

    def add(self, obs, action: int, reward: float, next_obs, terminated: bool) -> None:
        i = self.pos
        self.obs[i], self.next_obs[i] = obs, next_obs
        self.action[i], self.reward[i], self.terminated[i] = action, reward, float(terminated)
        self.pos, self.size = (i + 1) % self.capacity, min(self.size + 1, self.capacity)

    def sample(self, batch_size: int) -> tuple[torch.Tensor, ...]:
        idx = torch.randint(0, self.size, (batch_size,))
        return (self.obs[idx], self.action[idx], self.reward[idx], self.next_obs[idx],
                self.terminated[idx])


def mlp(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    """One hidden ReLU layer; DDPG-style init: last layer U(-3e-3, 3e-3), others fan-in."""
    net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))
    nn.init.uniform_(net[-1].weight, -3e-3, 3e-3)
    nn.init.uniform_(net[-1].bias, -3e-3, 3e-3)
    return net  # PyTorch's default Linear init is U(+-1/sqrt(fan_in)), as in DDPG


class TwinQ(nn.Module):
    """Two independent Q-networks ``obs -> Q(s, .)``."""

    def __init__(self, obs_dim: int, hidden: int, num_actions: int):
        super().__init__()
        self.q1, self.q2 = mlp(obs_dim, hidden, num_actions), mlp(obs_dim, hidden, num_actions)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.q1(obs), self.q2(obs)


class GrokfastEMA:
    """Grokfast-EMA on a network's gradients: ``mu <- alpha mu + (1 - alpha) g``,
    ``g <- g + lamb mu``; ``mu`` starts at the first gradient (authors' code)."""

    def __init__(self, params, alpha: float, lamb: float):
        self.params, self.alpha, self.lamb, self.mu = list(params), alpha, lamb, None

    def __call__(self) -> None:
        grads = [p.grad for p in self.params]
        if self.mu is None:
            self.mu = [g.detach().clone() for g in grads]
        else:
            torch._foreach_lerp_(self.mu, grads, 1 - self.alpha)
        torch._foreach_add_(grads, self.mu, alpha=self.lamb)


class GradeRatio:
    """GrAdE: ``m = sum_i ||g_i||``, ``ema <- beta ema + (1 - beta) m`` (first: ``m``),
    ``r = ema / (max ema + 1e-8)``; ``r = 1`` before the first gradient."""

    def __init__(self, params, beta: float):
        self.params, self.beta = list(params), beta
        self.ema, self.ema_max, self.ratio = None, 0.0, 1.0

    def observe(self) -> None:
        magnitude = float(torch.stack(torch._foreach_norm([p.grad for p in self.params])).sum())
        self.ema = magnitude if self.ema is None else (
            self.beta * self.ema + (1 - self.beta) * magnitude)
        self.ema_max = max(self.ema_max, self.ema)
        self.ratio = self.ema / (self.ema_max + 1e-8)


class DiscreteSAC:
    """Actor, twin critic with Polyak targets, learned temperature, optional Grokfast/GrAdE."""

    def __init__(self, obs_dim: int, num_actions: int, cfg: Config, grokfast: bool, grade: bool):
        self.cfg = cfg
        self.actor = mlp(obs_dim, cfg.hidden, num_actions)
        self.critic = TwinQ(obs_dim, cfg.hidden, num_actions)
        self.target = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = torch.tensor(math.log(cfg.initial_alpha), requires_grad=True)
        self.target_entropy = cfg.target_entropy_scale * math.log(num_actions)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.lr)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.lr)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=cfg.lr)
        self.grokfast = [GrokfastEMA(net.parameters(), cfg.grokfast_alpha, cfg.grokfast_lamb)
                         for net in (self.actor, self.critic)] if grokfast else None
        self.grade = GradeRatio(self.actor.parameters(), cfg.grade_beta) if grade else None

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> int:
        return int(torch.multinomial(F.softmax(self.actor(obs), -1), 1))

    @torch.no_grad()
    def policy(self, all_obs: torch.Tensor) -> np.ndarray:
        return F.softmax(self.actor(all_obs), -1).double().numpy()

    def update(self, obs, action, reward, next_obs, terminated) -> dict[str, float]:
        cfg, alpha = self.cfg, self.log_alpha.exp().detach()
        with torch.no_grad():
            next_logp = F.log_softmax(self.actor(next_obs), -1)
            next_q = torch.min(*self.target(next_obs))
            next_v = (next_logp.exp() * (next_q - alpha * next_logp)).sum(-1)
            y = reward + cfg.gamma * (1.0 - terminated) * next_v
        q1, q2 = (q.gather(1, action[:, None]).squeeze(1) for q in self.critic(obs))
        critic_loss = F.mse_loss(q1, y) + F.mse_loss(q2, y)
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        if self.grokfast:
            self.grokfast[1]()
        self.critic_opt.step()

        logp = F.log_softmax(self.actor(obs), -1)
        probs = logp.exp()
        with torch.no_grad():
            q = torch.min(*self.critic(obs))
        coef = alpha * self.grade.ratio if self.grade else alpha
        actor_loss = (probs * (coef * logp - q)).sum(-1).mean()
        self.actor_opt.zero_grad(set_to_none=True)
        actor_loss.backward()
        if self.grade:
            self.grade.observe()
        if self.grokfast:
            self.grokfast[0]()
        self.actor_opt.step()

        gap = (probs.detach() * (logp.detach() + self.target_entropy)).sum(-1).mean()
        alpha_loss = -self.log_alpha.exp() * gap
        self.alpha_opt.zero_grad(set_to_none=True)
        alpha_loss.backward()
        self.alpha_opt.step()

        with torch.no_grad():
            for p, tp in zip(self.critic.parameters(), self.target.parameters(), strict=True):
                tp.lerp_(p, cfg.tau)
        return {"critic_loss": critic_loss.item(), "actor_loss": actor_loss.item()}


def run(variant: str, seed: int, episodes: int, max_env_steps: int | None = None,
        cfg: Config = Config(), log: Callable[[str], None] | None = print) -> dict:
    """Train one Discrete SAC run; returns totals, timings and the evaluation curve.

    ``eval_curve`` holds ``(episode, env steps, greedy return, policy return)``: the exact
    expected discounted returns of the argmax policy and of the stochastic policy.

    Stops after ``episodes`` episodes or ``max_env_steps`` env steps, whichever comes first.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant: got {variant!r}; allowed: {', '.join(VARIANTS)}")
    if episodes < 1 or (max_env_steps is not None and max_env_steps < 1):
        raise ValueError(f"episodes, max_env_steps must be >= 1; got {episodes}, {max_env_steps}")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    env = FourRoomsEnv(rng)
    eye = torch.eye(env.num_states)
    agent = DiscreteSAC(env.num_states, env.num_actions, cfg, *VARIANTS[variant])
    buffer = ReplayBuffer(cfg.buffer_size, env.num_states)
    steps, updates, losses, learn_start = 0, 0, {}, None
    curve, returns = [], []  # (episode, env steps, greedy return); per-episode discounted return
    start_time = time.perf_counter()
    for episode in range(1, episodes + 1):
        state, done, ret, discount = env.reset(), False, 0.0, 1.0
        while not done and (max_env_steps is None or steps < max_env_steps):
            obs = eye[state]
            action = int(rng.integers(4)) if steps < cfg.random_steps else agent.act(obs)
            state, reward, terminated, truncated = env.step(action)
            buffer.add(obs, action, reward, eye[state], terminated)
            ret, discount, done = ret + discount * reward, discount * cfg.gamma, (
                terminated or truncated)
            steps += 1
            if steps >= cfg.random_steps:
                learn_start = learn_start or (time.perf_counter(), steps)
                losses = agent.update(*buffer.sample(cfg.batch_size))
                updates += 1
        returns.append(ret)
        stop = max_env_steps is not None and steps >= max_env_steps
        last = episode == episodes or stop
        if episode % cfg.eval_every == 0 or episode % cfg.log_every == 0 or last:
            policy = agent.policy(eye)
            greedy = env.policy_return(np.eye(env.num_actions)[policy.argmax(1)], cfg.gamma)
            stochastic = env.policy_return(policy, cfg.gamma)
            curve.append((episode, steps, greedy, stochastic))
            if log and (episode % cfg.log_every == 0 or last):
                ratio = agent.grade.ratio if agent.grade else 1.0
                log(f"episode {episode} steps {steps} train_disc_return {ret:.2f} "
                    f"greedy_disc_return {greedy:.2f} policy_disc_return {stochastic:.2f} "
                    f"alpha {agent.log_alpha.exp().item():.3f} grade_r {ratio:.3f} "
                    + " ".join(f"{k} {v:.4g}" for k, v in losses.items()))
        if stop:
            break
    end_time = time.perf_counter()
    wall = end_time - start_time
    learning = None  # env steps per second once every step also does an update
    if learn_start is not None and steps > learn_start[1]:
        learning = (steps - learn_start[1]) / (end_time - learn_start[0])
    return {"variant": variant, "seed": seed, "episodes": len(returns), "env_steps": steps,
            "updates": updates, "wall_s": wall, "steps_per_s": steps / wall,
            "learning_steps_per_s": learning,
            "final_greedy_disc_return": curve[-1][2], "final_policy_disc_return": curve[-1][3],
            "eval_curve": curve,
            "train_disc_returns": returns, "config": asdict(cfg)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variant", choices=tuple(VARIANTS), default="plain")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--max-steps", type=int, default=None, help="stop after N env steps")
    parser.add_argument("--log-every", type=int, default=Config.log_every)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads(N); default: leave torch's default")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    cfg = Config(log_every=args.log_every)
    result = run(args.variant, args.seed, args.episodes, args.max_steps, cfg)
    keys = ("variant", "seed", "episodes", "env_steps", "updates", "wall_s", "steps_per_s",
            "learning_steps_per_s", "final_greedy_disc_return", "final_policy_disc_return")
    print(json.dumps({"torch_threads": torch.get_num_threads(), **{k: result[k] for k in keys}}))


if __name__ == "__main__":
    main()
