"""The gradient-norm teacher on PointMaze as its authors ran it: PyTorch, one seed per process.

SAC (Haarnoja et al. 2018) on gymnasium-robotics' MuJoCo ``PointMaze_OpenDense-v3``
(continuing task, 300-step episodes), with the authors' small configuration (Campbell & Yoon
2023, their code; docs/reference_facts.md §2): 3 x 128 ReLU actor and twin critics, batch 128,
Adam 3e-4, gamma 0.99, tau 0.005, fixed temperature 0.2, 5,000 random steps, one update per env
step from step 10,000, a 1e6 replay buffer. The REINFORCE teacher (2 x 64 tanh policy and
baseline, Adam 5e-3, Gaussian with sigmoid mean and std 0.7, k = 5 episodes per trajectory, 5
baseline steps) picks each episode's goal and reset cell (clipped to [0, 1], nearest free cell),
rewarded by the mean per-update norm of the actor's gradient over the episode. The same system
as ``jaxcurr run pointmaze_acl``'s ``mean_norm`` method; here to time it.

Needs ``pip install torch gymnasium-robotics mujoco`` (the ``reference`` extra and torch).

    python benchmarks/torch_baselines/sac_pointmaze.py --steps 2000 [--seed 0]

Runs ``learning_starts`` steps (random actions, then the policy without updates) and then
``--steps`` learning steps, and prints one JSON line with the learning phase's env steps/s.
"""

import argparse
import json
import time

import gymnasium as gym
import gymnasium_robotics
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

HIDDEN, BATCH, LR, GAMMA, TAU, ALPHA = 128, 128, 3e-4, 0.99, 0.005, 0.2
RANDOM_STEPS, LEARNING_STARTS, BUFFER = 5_000, 10_000, 1_000_000


def mlp(sizes, activation):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class Actor(nn.Module):
    def __init__(self, obs_dim, act_dim):
        super().__init__()
        self.body = mlp([obs_dim, HIDDEN, HIDDEN, HIDDEN], nn.ReLU)
        self.mean, self.log_std = nn.Linear(HIDDEN, act_dim), nn.Linear(HIDDEN, act_dim)

    def forward(self, obs):
        h = F.relu(self.body(obs))
        mean, log_std = self.mean(h), self.log_std(h).clamp(-20, 2)
        u = mean + log_std.exp() * torch.randn_like(mean)
        log_prob = (-0.5 * ((u - mean) / log_std.exp()) ** 2 - log_std
                    - 0.5 * np.log(2 * np.pi)).sum(-1)
        log_prob -= (2 * (np.log(2) - u - F.softplus(-2 * u))).sum(-1)
        return torch.tanh(u), log_prob


class Critic(nn.Module):
    def __init__(self, obs_dim, act_dim):
        super().__init__()
        self.q1 = mlp([obs_dim + act_dim, HIDDEN, HIDDEN, HIDDEN, 1], nn.ReLU)
        self.q2 = mlp([obs_dim + act_dim, HIDDEN, HIDDEN, HIDDEN, 1], nn.ReLU)

    def forward(self, obs, act):
        x = torch.cat([obs, act], -1)
        return self.q1(x)[..., 0], self.q2(x)[..., 0]


class Teacher:
    """REINFORCE over (goal cell, reset cell) with a learned baseline."""

    def __init__(self, free_cells, grid_shape, k=5, std=0.7):
        self.policy, self.baseline = mlp([5, 64, 64, 4], nn.Tanh), mlp([5, 64, 64, 1], nn.Tanh)
        self.p_opt = torch.optim.Adam(self.policy.parameters(), 5e-3)
        self.b_opt = torch.optim.Adam(self.baseline.parameters(), 5e-3)
        self.free, self.size, self.k, self.std = free_cells, np.array(grid_shape), k, std
        self.trajectory = []

    def act(self, obs):
        with torch.no_grad():
            mean = torch.sigmoid(self.policy(torch.as_tensor(obs, dtype=torch.float32)))
        raw = (mean + self.std * torch.randn(4)).numpy()

        def nearest(x):
            point = np.clip(x, 0, 1) * self.size
            return self.free[np.argmin(((self.free + 0.5 - point) ** 2).sum(1))]

        return raw, nearest(raw[:2]), nearest(raw[2:])

    def observe(self, obs, raw, reward):
        self.trajectory.append((obs, raw, reward))
        if len(self.trajectory) < self.k:
            return
        obs, raw, rewards = (torch.as_tensor(np.array(c), dtype=torch.float32)
                             for c in zip(*self.trajectory, strict=True))
        self.trajectory = []
        returns = rewards.flip(0).cumsum(0).flip(0)
        adv = returns - self.baseline(obs)[:, 0].detach()
        adv = (adv - adv.mean()) / (adv.std(unbiased=False) + 1e-8)
        mean = torch.sigmoid(self.policy(obs))
        log_prob = (-0.5 * ((raw - mean) / self.std) ** 2).sum(-1)
        self.p_opt.zero_grad()
        (-(adv * log_prob).mean()).backward()
        self.p_opt.step()
        for _ in range(5):
            self.b_opt.zero_grad()
            ((self.baseline(obs)[:, 0] - returns) ** 2).mean().backward()
            self.b_opt.step()


def flat(obs):
    return np.concatenate([obs["achieved_goal"], obs["desired_goal"],
                           obs["observation"]]).astype(np.float32)


def run(steps: int, seed: int) -> dict:
    gym.register_envs(gymnasium_robotics)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    env = gym.make("PointMaze_OpenDense-v3", continuing_task=True, max_episode_steps=300)
    maze = np.array(env.unwrapped.maze.maze_map, dtype=object)
    free = np.argwhere(np.vectorize(lambda c: c != 1)(maze))
    obs_dim, act_dim = 8, 2
    actor, critic = Actor(obs_dim, act_dim), Critic(obs_dim, act_dim)
    target = Critic(obs_dim, act_dim)
    target.load_state_dict(critic.state_dict())
    a_opt, c_opt = torch.optim.Adam(actor.parameters(), LR), torch.optim.Adam(critic.parameters(),
                                                                              LR)
    teacher = Teacher(free, maze.shape)
    size = min(BUFFER, LEARNING_STARTS + steps)
    buf = {k: np.zeros((size, d), np.float32) for k, d in
           (("o", obs_dim), ("a", act_dim), ("r", 1), ("o2", obs_dim))}
    obs, _ = env.reset(seed=seed)
    obs = flat(obs)
    t_obs, (raw, *_), grad_norms, ret = np.zeros(5, np.float32), teacher.act(np.zeros(5)), [], 0.0
    started = None
    for t in range(LEARNING_STARTS + steps):
        if t == LEARNING_STARTS:
            started = time.perf_counter()
        if t < RANDOM_STEPS:
            action = env.action_space.sample()
        else:
            with torch.no_grad():
                action = actor(torch.as_tensor(obs)[None])[0][0].numpy()
        next_obs, reward, _, truncated, _ = env.step(action)
        next_obs, i = flat(next_obs), t % size
        buf["o"][i], buf["a"][i], buf["r"][i], buf["o2"][i] = obs, action, reward, next_obs
        obs, ret = next_obs, ret + reward
        if t >= LEARNING_STARTS:
            idx = rng.integers(0, min(t + 1, size), BATCH)
            o, a, r, o2 = (torch.as_tensor(buf[k][idx]) for k in ("o", "a", "r", "o2"))
            with torch.no_grad():
                a2, lp2 = actor(o2)
                y = r[:, 0] + GAMMA * (torch.min(*target(o2, a2)) - ALPHA * lp2)
            q1, q2 = critic(o, a)
            c_opt.zero_grad()
            (F.mse_loss(q1, y) + F.mse_loss(q2, y)).backward()
            c_opt.step()
            new_a, lp = actor(o)
            a_opt.zero_grad()
            (ALPHA * lp - torch.min(*critic(o, new_a))).mean().backward()
            grad_norms.append(torch.norm(torch.stack([p.grad.norm() for p in actor.parameters()])))
            a_opt.step()
            with torch.no_grad():
                for p, tp in zip(critic.parameters(), target.parameters(), strict=True):
                    tp.mul_(1 - TAU).add_(TAU * p)
        if truncated:
            reward_t = float(torch.stack(grad_norms).mean()) if grad_norms else 0.0
            start = np.concatenate([obs[2:4], obs[0:2]])
            next_t_obs = np.concatenate([[ret / 300], start]).astype(np.float32)
            teacher.observe(t_obs, raw, reward_t)
            raw, goal, reset = teacher.act(next_t_obs)
            obs, _ = env.reset(options={"goal_cell": goal, "reset_cell": reset})
            obs, t_obs, grad_norms, ret = flat(obs), next_t_obs, [], 0.0
    seconds = time.perf_counter() - started
    return {"impl": "torch", "seed": seed, "learning_steps": steps, "run_s": seconds,
            "env_steps_per_s": steps / seconds, "torch_threads": torch.get_num_threads()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(json.dumps(run(args.steps, args.seed)))
