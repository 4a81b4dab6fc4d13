"""An independent Discrete SAC on Gymnasium's Box2D LunarLander-v3: the control of REPORT §6.2.

Written from Christodoulou (2019) and the settings of Nilabh & Sinha Choudhury's LunarLander
runs, in plain PyTorch, sharing no code with jaxcurr or with the other baselines here, so
that "our SAC stays low" can be told apart from "these settings stay low": if this control
reaches the paper's level on Box2D's own environment and jaxcurr does not, the difference is
in jaxcurr's SAC.

One process, one env, one step at a time:

* networks: actor ``8 -> h... -> 4`` logits, two critics ``8 -> h... -> 4`` Q-values, ReLU,
  PyTorch's default ``U(+-1/sqrt(fan_in))`` for hidden layers (DDPG's rule), ``U(+-3e-3)`` for
  the output layers; ``--hidden 200 200`` is the authors' checkpoints, ``--hidden 256`` the
  paper's table;
* critic target ``y = r + gamma (1 - terminated) sum_a pi(a|s') [min_i Q'_i(s', a) - alpha log
  pi(a|s')]``; loss ``sum_i MSE(Q_i(s, a), y)``;
* actor loss ``mean_s sum_a pi(a|s) [alpha log pi(a|s) - min_i Q_i(s, a)]``;
* temperature ``log alpha`` by Adam on ``-alpha mean_s sum_a pi(a|s) (log pi(a|s) + H_target)``,
  ``H_target = 0.6 log 4``, alpha starting at 0.2;
* Polyak targets, tau 0.005; Adam 3e-4; batch 256; buffer 1e6; 10,000 uniform random steps,
  then 50 env steps and 50 updates; rewards stored clipped below at -10 (``--min-reward``;
  ``--clip-target`` clips instead inside the critic's target); optional Grokfast-EMA
  (``g + 2.0 * ema_0.98(g)``) on both networks' gradients.

Every ``--eval-every`` env steps the greedy (argmax) policy flies ``--eval-episodes`` episodes on
a separate env (seeds ``10**6 + k``); each evaluation is printed as one JSON line and appended
to ``--out``.

    python -m benchmarks.torch_baselines.sac_lunar_control --seed 0 --steps 150000 \
        --hidden 200 200 --out lunar_control.jsonl
"""

import argparse
import json
import math
import time

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def network(sizes: list[int]) -> nn.Sequential:
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layer = nn.Linear(fan_in, fan_out)
        bound = 3e-3 if i == len(sizes) - 2 else 1.0 / math.sqrt(fan_in)
        nn.init.uniform_(layer.weight, -bound, bound)
        nn.init.uniform_(layer.bias, -bound, bound)
        layers += [layer, nn.ReLU()]
    return nn.Sequential(*layers[:-1])


class Grokfast:
    """``g <- g + lamb * ema``, ``ema <- alpha ema + (1 - alpha) g`` (ema starts at zero)."""

    def __init__(self, params, alpha=0.98, lamb=2.0):
        self.params, self.alpha, self.lamb = list(params), alpha, lamb
        self.ema = [torch.zeros_like(p) for p in self.params]

    def __call__(self):
        for p, e in zip(self.params, self.ema, strict=True):
            e.mul_(self.alpha).add_(p.grad, alpha=1 - self.alpha)
            p.grad.add_(e, alpha=self.lamb)


class Agent:
    def __init__(self, args):
        sizes = [8, *args.hidden, 4]
        self.actor, self.q1, self.q2 = network(sizes), network(sizes), network(sizes)
        self.q1_target, self.q2_target = network(sizes), network(sizes)
        self.q1_target.load_state_dict(self.q1.state_dict())
        self.q2_target.load_state_dict(self.q2.state_dict())
        critics = [*self.q1.parameters(), *self.q2.parameters()]
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=args.lr)
        self.critic_opt = torch.optim.Adam(critics, lr=args.lr)
        self.log_alpha = torch.tensor(math.log(args.initial_alpha), requires_grad=True)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=args.lr)
        self.target_entropy = args.target_entropy_scale * math.log(4)
        self.filters = ([Grokfast(self.actor.parameters()), Grokfast(critics)]
                        if args.grokfast else [None, None])
        self.args = args

    def act(self, obs: np.ndarray, greedy: bool) -> int:
        with torch.no_grad():
            logits = self.actor(torch.as_tensor(obs, dtype=torch.float32))
        if greedy:
            return int(logits.argmax())
        return int(torch.distributions.Categorical(logits=logits).sample())

    def update(self, s, a, r, s2, done) -> dict:
        args, alpha = self.args, self.log_alpha.exp().detach()
        with torch.no_grad():
            logp2 = F.log_softmax(self.actor(s2), -1)
            q2_min = torch.min(self.q1_target(s2), self.q2_target(s2))
            v2 = (logp2.exp() * (q2_min - alpha * logp2)).sum(-1)
            reward = r.clamp(min=args.min_reward) if args.clip_target else r
            y = reward + args.gamma * (1 - done) * v2
        q_loss = (F.mse_loss(self.q1(s).gather(1, a[:, None])[:, 0], y)
                  + F.mse_loss(self.q2(s).gather(1, a[:, None])[:, 0], y))
        self.critic_opt.zero_grad()
        q_loss.backward()
        if self.filters[1]:
            self.filters[1]()
        self.critic_opt.step()

        logp = F.log_softmax(self.actor(s), -1)
        with torch.no_grad():
            q_min = torch.min(self.q1(s), self.q2(s))
        pi_loss = (logp.exp() * (alpha * logp - q_min)).sum(-1).mean()
        self.actor_opt.zero_grad()
        pi_loss.backward()
        if self.filters[0]:
            self.filters[0]()
        self.actor_opt.step()

        probs, logp = logp.exp().detach(), logp.detach()
        alpha_loss = -(self.log_alpha.exp() * (probs * (logp + self.target_entropy)).sum(-1)).mean()
        self.alpha_opt.zero_grad()
        alpha_loss.backward()
        self.alpha_opt.step()

        with torch.no_grad():
            for net, target in ((self.q1, self.q1_target), (self.q2, self.q2_target)):
                for p, t in zip(net.parameters(), target.parameters(), strict=True):
                    t.mul_(1 - args.tau).add_(p, alpha=args.tau)
        entropy = float(-(probs * logp).sum(-1).mean())
        return {"alpha": float(alpha), "entropy": entropy}


def evaluate(agent: Agent, episodes: int) -> list[float]:
    env, returns = gym.make("LunarLander-v3"), []
    for k in range(episodes):
        obs, _ = env.reset(seed=10**6 + k)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(agent.act(obs, greedy=True))
            total, done = total + reward, terminated or truncated
        returns.append(total)
    return returns


def train(args) -> None:
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    env = gym.make("LunarLander-v3")
    obs, _ = env.reset(seed=args.seed)
    agent = Agent(args)
    n = args.buffer_size
    store = {"s": np.zeros((n, 8), np.float32), "a": np.zeros(n, np.int64),
             "r": np.zeros(n, np.float32), "s2": np.zeros((n, 8), np.float32),
             "d": np.zeros(n, np.float32)}
    size, episode_return, returns, info, start = 0, 0.0, [], {}, time.time()
    for step in range(1, args.steps + 1):
        action = (agent.act(obs, greedy=False) if step > args.random_steps
                  else int(rng.integers(4)))
        next_obs, reward, terminated, truncated, _ = env.step(action)
        i = (step - 1) % n
        stored = reward if args.clip_target else max(reward, args.min_reward)
        row = (obs, action, stored, next_obs, terminated)
        for key, value in zip("s a r s2 d".split(), row, strict=True):
            store[key][i] = value
        size, episode_return, obs = min(size + 1, n), episode_return + reward, next_obs
        if terminated or truncated:
            returns.append(episode_return)
            episode_return, (obs, _) = 0.0, env.reset()
        if step > args.random_steps and step % args.update_every == 0:
            for _ in range(args.update_every):
                idx = rng.integers(size, size=args.batch_size)
                batch = [torch.as_tensor(store[key][idx]) for key in "s a r s2 d".split()]
                info = agent.update(*batch)
        if step % args.eval_every == 0:
            scores = evaluate(agent, args.eval_episodes)
            row = {"seed": args.seed, "hidden": args.hidden, "grokfast": args.grokfast,
                   "clip_target": args.clip_target, "step": step,
                   "greedy_return": float(np.mean(scores)), "greedy_returns": scores,
                   "train_return_last10": float(np.mean(returns[-10:])) if returns else None,
                   "episodes": len(returns), "seconds": round(time.time() - start, 1), **info}
            print(json.dumps(row), flush=True)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(json.dumps(row) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=350_000)
    parser.add_argument("--hidden", type=int, nargs="+", default=[200, 200])
    parser.add_argument("--grokfast", action="store_true")
    parser.add_argument("--clip-target", action="store_true")
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--gamma", type=float, default=0.99)
    parser.add_argument("--tau", type=float, default=0.005)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--buffer-size", type=int, default=1_000_000)
    parser.add_argument("--initial-alpha", type=float, default=0.2)
    parser.add_argument("--target-entropy-scale", type=float, default=0.6)
    parser.add_argument("--random-steps", type=int, default=10_000)
    parser.add_argument("--update-every", type=int, default=50)
    parser.add_argument("--min-reward", type=float, default=-10.0)
    parser.add_argument("--eval-every", type=int, default=10_000)
    parser.add_argument("--eval-episodes", type=int, default=5)
    parser.add_argument("--out", default=None)
    train(parser.parse_args())


if __name__ == "__main__":
    main()
