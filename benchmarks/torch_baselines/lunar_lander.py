"""Discrete SAC and the GrAdE paper's episodic PPO on Gymnasium's Box2D LunarLander-v3, in
plain PyTorch: the baselines of ``benchmarks/measure_lunar_lander.py``.

One run per process, one env step at a time (CleanRL style), the four variants of Nilabh &
Sinha Choudhury (plain, Grokfast-EMA, GrAdE, both) with the settings of
``jaxcurr/experiments/lunar_sac.toml`` and ``jaxcurr/experiments/lunar_ppo.toml``:

* SAC: :class:`~benchmarks.torch_baselines.sac_fourrooms.DiscreteSAC` (its file has the
  losses) with buffer 1e6, initial alpha 0.2, target entropy ``0.6 log 4``, 10,000 random
  steps, then 50 env steps and 50 updates, rewards stored clipped below at -10.
* PPO: actor and critic ``[128, 128]`` ReLU, Adam 5e-4 / 1e-3, one episode per update,
  normalised Monte-Carlo returns (gamma 0.99), advantage ``G~ - V`` normalised, 5 full-batch
  epochs of PPO-Clip (0.2) with entropy bonus 0.01, or ``0.02 r`` with GrAdE.

Usage::

  python benchmarks/torch_baselines/lunar_lander.py sac --variant plain --steps 12000
  python benchmarks/torch_baselines/lunar_lander.py ppo --variant grade --episodes 10

prints one JSON line (``learning_steps_per_s`` for SAC: env steps per second after the random
phase, updates included; ``episodes_per_s`` and ``env_steps_per_s`` for PPO).
"""

import argparse
import json
import time

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.torch_baselines.sac_fourrooms import (
    VARIANTS,
    Config,
    DiscreteSAC,
    GradeRatio,
    GrokfastEMA,
    ReplayBuffer,
)

SAC_CONFIG = Config(buffer_size=1_000_000, initial_alpha=0.2, target_entropy_scale=0.6,
                    random_steps=10_000)
UPDATE_EVERY, MIN_REWARD = 50, -10.0


def sac(variant: str, seed: int, steps: int) -> dict:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    env = gym.make("LunarLander-v3")
    obs, _ = env.reset(seed=seed)
    agent = DiscreteSAC(8, 4, SAC_CONFIG, *VARIANTS[variant])
    buffer = ReplayBuffer(SAC_CONFIG.buffer_size, 8)
    learn_start = None
    for step in range(1, steps + 1):
        x = torch.as_tensor(obs, dtype=torch.float32)
        learning = step > SAC_CONFIG.random_steps
        action = agent.act(x) if learning else int(rng.integers(4))
        obs, reward, terminated, truncated, _ = env.step(action)
        buffer.add(x, action, max(reward, MIN_REWARD), torch.as_tensor(obs), terminated)
        if terminated or truncated:
            obs, _ = env.reset()
        if learning and learn_start is None:
            learn_start = (time.perf_counter(), step - 1)
        if learning and step % UPDATE_EVERY == 0:
            for _ in range(UPDATE_EVERY):
                agent.update(*buffer.sample(SAC_CONFIG.batch_size))
    learned = steps - learn_start[1]
    return {"algo": "sac", "variant": variant, "seed": seed, "env_steps": steps,
            "learning_steps_per_s": learned / (time.perf_counter() - learn_start[0])}


def mlp(in_dim: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                         nn.Linear(128, out_dim))


def normalize(x: torch.Tensor) -> torch.Tensor:
    return (x - x.mean()) / (x.std(unbiased=False) + 1e-8)


def ppo(variant: str, seed: int, episodes: int) -> dict:
    torch.manual_seed(seed)
    grokfast, grade = VARIANTS[variant]
    env = gym.make("LunarLander-v3")
    actor, critic = mlp(8, 4), mlp(8, 1)
    a_opt = torch.optim.Adam(actor.parameters(), lr=5e-4)
    c_opt = torch.optim.Adam(critic.parameters(), lr=1e-3)
    filters = [GrokfastEMA(net.parameters(), 0.98, 2.0) for net in (actor, critic)] \
        if grokfast else None
    ratio = GradeRatio(actor.parameters(), 0.9) if grade else None
    total_steps, start = 0, time.perf_counter()
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed * 100_000 + episode)
        states, actions, logps, rewards, done = [], [], [], [], False
        while not done:
            x = torch.as_tensor(obs, dtype=torch.float32)
            with torch.no_grad():
                dist = torch.distributions.Categorical(logits=actor(x))
                a = dist.sample()
            obs, r, terminated, truncated, _ = env.step(int(a))
            states.append(x), actions.append(a), logps.append(dist.log_prob(a))
            rewards.append(r)
            done = terminated or truncated
        total_steps += len(rewards)
        returns, g = [], 0.0
        for r in reversed(rewards):
            g = r + 0.99 * g
            returns.append(g)
        target = normalize(torch.tensor(returns[::-1], dtype=torch.float32))
        s, a, old_logp = torch.stack(states), torch.stack(actions), torch.stack(logps)
        with torch.no_grad():
            adv = normalize(target - critic(s).squeeze(-1))
        for _ in range(5):
            dist = torch.distributions.Categorical(logits=actor(s))
            rho = (dist.log_prob(a) - old_logp).exp()
            surrogate = torch.min(rho * adv, rho.clamp(0.8, 1.2) * adv).mean()
            coef = 0.02 * ratio.ratio if ratio else 0.01
            actor_loss = -surrogate - coef * dist.entropy().mean()
            a_opt.zero_grad(set_to_none=True)
            actor_loss.backward()
            if ratio:
                ratio.observe()
            if filters:
                filters[0]()
            a_opt.step()
            critic_loss = F.mse_loss(critic(s).squeeze(-1), target)
            c_opt.zero_grad(set_to_none=True)
            critic_loss.backward()
            if filters:
                filters[1]()
            c_opt.step()
    wall = time.perf_counter() - start
    return {"algo": "ppo", "variant": variant, "seed": seed, "episodes": episodes,
            "env_steps": total_steps, "episodes_per_s": episodes / wall,
            "env_steps_per_s": total_steps / wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("algo", choices=("sac", "ppo"))
    parser.add_argument("--variant", choices=tuple(VARIANTS), default="plain")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=12_000, help="SAC: env steps in all")
    parser.add_argument("--episodes", type=int, default=10, help="PPO: episodes (updates)")
    args = parser.parse_args()
    out = sac(args.variant, args.seed, args.steps) if args.algo == "sac" else ppo(
        args.variant, args.seed, args.episodes)
    print(json.dumps({"torch_threads": torch.get_num_threads(), **out}))


if __name__ == "__main__":
    main()
