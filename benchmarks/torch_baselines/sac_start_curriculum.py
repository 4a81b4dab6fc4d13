"""The gradient-norm teacher as its authors ran it: PyTorch, one seed per process, stepping
gymnasium-robotics' MuJoCo environments (``--env pointmaze`` or ``--env relocate``).

SAC (Haarnoja et al. 2018) with the authors' small configuration (Campbell & Yoon 2023, their
code; docs/reference_facts.md §2): 3 x 128 ReLU actor and twin critics, batch 128, Adam 3e-4,
gamma 0.99, tau 0.005, a fixed temperature (0.2 PointMaze, 0.05 Relocate: the experiments'
settings), 5,000 random steps, one update per env step from step 10,000, a 1e6 replay buffer.
The REINFORCE teacher (2 x 64 tanh policy and baseline, Adam 5e-3, Gaussian with sigmoid mean
and std 0.7, clipped to [0, 1], k = 5 episodes per trajectory, 5 baseline steps) picks each
episode's start, rewarded by the mean per-update norm of the actor's gradient over the episode;
its observation is ``[return / episode length, the start]``. The starts:

* ``pointmaze``: ``PointMaze_OpenDense-v3`` (continuing task, 300-step episodes); the goal
  cell and reset cell, each the free cell nearest the teacher's point on the grid.
* ``relocate``: ``AdroitHandRelocate-v1`` (dense, 200 steps); the ball's xy and the target's
  xyz, mapped affinely onto the ranges the environment's reset samples them from, the hand at
  its reset pose (``reset(options={"initial_state_dict": ...})``).

The same systems as ``jaxcurr run pointmaze_acl`` / ``adroit_acl`` (3 x 128 nets) with the
``mean_norm`` method; here to time them. Needs ``pip install torch gymnasium-robotics mujoco``.

    python benchmarks/torch_baselines/sac_start_curriculum.py --env relocate --steps 2000

Runs ``--learning-starts`` steps (the first half random actions, then the policy without
updates) and then ``--steps`` learning steps, and prints one JSON line with the learning phase's
env steps/s and its wall-clock start and end (so that concurrent processes can be summed).
``--device cuda`` puts SAC's networks, optimizers and batches on the GPU (the teacher's 2 x 64
nets, updated once per episode, and the replay buffer stay on the host).
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

HIDDEN, BATCH, LR, GAMMA, TAU = 128, 128, 3e-4, 0.99, 0.005
LEARNING_STARTS, BUFFER = 10_000, 1_000_000


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
    """REINFORCE over starts in the unit cube with a learned baseline; ``to_start`` maps a
    clipped point onto the environment's start."""

    def __init__(self, obs_dim, act_dim, to_start, k=5, std=0.7):
        self.policy = mlp([obs_dim, 64, 64, act_dim], nn.Tanh)
        self.baseline = mlp([obs_dim, 64, 64, 1], nn.Tanh)
        self.p_opt = torch.optim.Adam(self.policy.parameters(), 5e-3)
        self.b_opt = torch.optim.Adam(self.baseline.parameters(), 5e-3)
        self.to_start, self.act_dim, self.k, self.std = to_start, act_dim, k, std
        self.trajectory = []

    def act(self, obs):
        with torch.no_grad():
            mean = torch.sigmoid(self.policy(torch.as_tensor(obs, dtype=torch.float32)))
        raw = (mean + self.std * torch.randn(self.act_dim)).numpy()
        return raw, self.to_start(np.clip(raw, 0, 1))

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


class PointMaze:
    """``PointMaze_OpenDense-v3``: obs ``[achieved, desired, observation]``, start = (goal
    cell, reset cell); ``reset`` keeps the start's description (goal, position) in ``start``."""

    alpha, episode_steps, start_dim = 0.2, 300, 4

    def __init__(self):
        self.env = gym.make("PointMaze_OpenDense-v3", continuing_task=True, max_episode_steps=300)
        maze = np.array(self.env.unwrapped.maze.maze_map, dtype=object)
        self.free = np.argwhere(np.vectorize(lambda c: c != 1)(maze))
        self.size = np.array(maze.shape)

    @staticmethod
    def flat(obs):
        return np.concatenate([obs["achieved_goal"], obs["desired_goal"],
                               obs["observation"]]).astype(np.float32)

    def to_start(self, unit):
        def nearest(x):
            return self.free[np.argmin(((self.free + 0.5 - x * self.size) ** 2).sum(1))]

        return {"goal_cell": nearest(unit[:2]), "reset_cell": nearest(unit[2:])}

    def reset(self, seed=None, start=None):
        obs = self.flat(self.env.reset(seed=seed, options=start)[0])
        self.start = np.concatenate([obs[2:4], obs[0:2]])  # goal, position
        return obs


class Relocate:
    """``AdroitHandRelocate-v1``: start = (ball xy, target xyz) within the reset's ranges;
    ``reset`` keeps the start's description (ball, target positions) in ``start``."""

    alpha, episode_steps, start_dim = 0.05, 200, 5
    low = np.array([-0.15, -0.15, -0.2, -0.2, 0.15])
    high = np.array([0.15, 0.3, 0.2, 0.2, 0.35])
    ball_z = 0.035

    def __init__(self):
        self.env = gym.make("AdroitHandRelocate-v1")
        self.qpos0 = self.env.unwrapped.init_qpos.copy()

    flat = staticmethod(lambda obs: obs.astype(np.float32))

    def to_start(self, unit):
        x = self.low + unit * (self.high - self.low)
        return {"initial_state_dict": {"qpos": self.qpos0, "qvel": np.zeros_like(self.qpos0),
                                       "obj_pos": np.array([x[0], x[1], self.ball_z]),
                                       "target_pos": x[2:]}}

    def reset(self, seed=None, start=None):
        obs = self.flat(self.env.reset(seed=seed, options=start)[0])
        u = self.env.unwrapped
        self.start = np.concatenate([u.data.xpos[u.obj_body_id], u.data.site_xpos[
            u.target_obj_site_id]]).astype(np.float32)
        return obs


ENVS = {"pointmaze": PointMaze, "relocate": Relocate}


def sac_update(actor, critic, target, a_opt, c_opt, batch, alpha):
    """One SAC step (critics, actor, Polyak target); the actor gradient's norm."""
    o, a, r, o2 = batch
    with torch.no_grad():
        a2, lp2 = actor(o2)
        y = r[:, 0] + GAMMA * (torch.min(*target(o2, a2)) - alpha * lp2)
    q1, q2 = critic(o, a)
    c_opt.zero_grad()
    (F.mse_loss(q1, y) + F.mse_loss(q2, y)).backward()
    c_opt.step()
    new_a, lp = actor(o)
    a_opt.zero_grad()
    (alpha * lp - torch.min(*critic(o, new_a))).mean().backward()
    norm = torch.norm(torch.stack([p.grad.norm() for p in actor.parameters()]))
    a_opt.step()
    with torch.no_grad():
        for p, tp in zip(critic.parameters(), target.parameters(), strict=True):
            tp.mul_(1 - TAU).add_(TAU * p)
    return norm


def run(env_name: str, steps: int, seed: int, device: str = "cpu",
        learning_starts: int = LEARNING_STARTS) -> dict:
    gym.register_envs(gymnasium_robotics)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    env = ENVS[env_name]()
    obs = env.reset(seed=seed)
    obs_dim, act_dim = obs.size, env.env.action_space.shape[0]
    actor, critic = Actor(obs_dim, act_dim).to(device), Critic(obs_dim, act_dim).to(device)
    target = Critic(obs_dim, act_dim).to(device)
    target.load_state_dict(critic.state_dict())
    a_opt, c_opt = torch.optim.Adam(actor.parameters(), LR), torch.optim.Adam(critic.parameters(),
                                                                              LR)
    t_obs = np.zeros(1 + env.start.size, np.float32)
    teacher = Teacher(t_obs.size, env.start_dim, env.to_start)
    size = min(BUFFER, learning_starts + steps)
    buf = {k: np.zeros((size, d), np.float32) for k, d in
           (("o", obs_dim), ("a", act_dim), ("r", 1), ("o2", obs_dim))}
    (raw, _), grad_norms, ret, started = teacher.act(t_obs), [], 0.0, None
    for t in range(learning_starts + steps):
        if t == learning_starts:
            started, wall_start = time.perf_counter(), time.time()
        if t < learning_starts // 2:
            action = env.env.action_space.sample()
        else:
            with torch.no_grad():
                action = actor(torch.as_tensor(obs, device=device)[None])[0][0].cpu().numpy()
        next_obs, reward, terminated, truncated, _ = env.env.step(action)
        next_obs, i = env.flat(next_obs), t % size
        buf["o"][i], buf["a"][i], buf["r"][i], buf["o2"][i] = obs, action, reward, next_obs
        obs, ret = next_obs, ret + reward
        if t >= learning_starts:
            idx = rng.integers(0, min(t + 1, size), BATCH)
            batch = tuple(torch.as_tensor(buf[k][idx], device=device)
                          for k in ("o", "a", "r", "o2"))
            grad_norms.append(sac_update(actor, critic, target, a_opt, c_opt, batch, env.alpha))
        if terminated or truncated:
            reward_t = float(torch.stack(grad_norms).mean()) if grad_norms else 0.0
            next_t_obs = np.concatenate([[ret / env.episode_steps], env.start])
            teacher.observe(t_obs, raw, reward_t)
            raw, start = teacher.act(next_t_obs.astype(np.float32))
            obs = env.reset(start=start)
            t_obs, grad_norms, ret = next_t_obs.astype(np.float32), [], 0.0
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    return {"impl": "torch", "env": env_name, "seed": seed, "device": device,
            "learning_steps": steps, "run_s": seconds, "env_steps_per_s": steps / seconds,
            "wall_start": wall_start, "wall_end": wall_start + seconds,
            "torch_threads": torch.get_num_threads()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", choices=sorted(ENVS), default="pointmaze")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--learning-starts", type=int, default=LEARNING_STARTS,
                        help="env steps before the first update (half of them random)")
    args = parser.parse_args()
    print(json.dumps(run(args.env, args.steps, args.seed, args.device, args.learning_starts)))
