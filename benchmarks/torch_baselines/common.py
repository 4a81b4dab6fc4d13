"""Pieces shared by the PyTorch baselines of the classifier curriculum (Blad & Loutfi 2025).

Both baselines (``classifier_paper.py``: one seed and method after another, ``torch.optim``;
``classifier_vectorized.py``: seeds stacked under ``torch.func.vmap``) read the same
``jaxcurr.curricula.classifier_config.Config`` and the same prepared arrays
(``jaxcurr.curricula.prepare_data``) as the JAX engine, and reproduce its step: the teacher picks a
task per sample, a random training image of the task is drawn with its label (clean, fixed
within-group ``curriculum`` relabel, or fresh within-group ``noise``), the signal gives one reward
per sample from the student's parameters *before* its Adam step (Adam's moments from before or
after it, as ``signal.moments`` says), the student steps on the batch-mean cross-entropy and the
REINFORCE teacher steps on the rewards. Every function here accepts extra leading (seed) axes.

Signals, with ``g_b`` sample b's loss gradient and ``m, v`` Adam's moments:
``momentum_correlation`` ``r_b = |sum_i g_{b,i} u_i|``, ``u = m / (v + eps)`` (or
``m / (sqrt(v) + eps)``), as one ``torch.func.jvp`` of the per-sample loss vector along ``u``;
``gradient_norm`` ``r_b = ||g_b||_2`` by ``vmap(grad)`` (paper-style) or the one-backward-pass
identity (vectorised); ``loss`` (curiosity) ``r_b = loss_b``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import scipy.stats
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, jvp, vmap

from jaxcurr.core.stats import mean_ci
from jaxcurr.curricula import TaskData, prepare_data
from jaxcurr.curricula.classifier import teacher_and_signal
from jaxcurr.curricula.classifier_config import Config, SignalConfig, TeacherConfig, load_config
from jaxcurr.datasets.classification import load_dataset
from jaxcurr.kinds.classifier_curriculum_report import summarize
from jaxcurr.run import runner


class TorchData(NamedTuple):
    """``TaskData`` as torch tensors, plus two fixed matrices for the per-group evaluation."""

    x_train: torch.Tensor  # [N, D]
    y_train: torch.Tensor  # [N] true labels
    task_index: torch.Tensor  # [K, W] training indices of each task (padded)
    task_count: torch.Tensor  # [K]
    task_group: torch.Tensor  # [K]
    eval_index: torch.Tensor  # [M]
    x_test: torch.Tensor
    y_test: torch.Tensor
    group_of_class: torch.Tensor  # [C]
    members: torch.Tensor  # [G, W] classes of each group (padded)
    sizes: torch.Tensor  # [G]
    eval_group_mean: torch.Tensor  # [M, G]: eval losses @ this = per-group mean loss
    noise_label_weights: torch.Tensor  # [M, C]: 1/|group| on the classes of the sample's group

    @property
    def num_groups(self) -> int:
        return len(self.sizes)


def to_torch(data: TaskData | TorchData, device: str = "cpu") -> TorchData:
    """Convert the JAX engine's prepared arrays (``prepare_data``) to torch tensors on
    ``device``."""
    if isinstance(data, TorchData):
        return TorchData(*(x.to(device) for x in data))

    def t(a):
        return torch.from_numpy(np.array(a)).to(device)

    group_of_class, members, sizes = (t(a).long() for a in data.groups)
    eval_index = t(data.eval_index).long()
    y_eval = t(data.y_train).long()[eval_index]
    eval_group = F.one_hot(group_of_class[y_eval], len(sizes)).float()
    same_group = group_of_class[y_eval][:, None] == group_of_class[None, :]
    weights = same_group.float() / sizes[group_of_class[y_eval]][:, None].float()
    return TorchData(
        x_train=t(data.x_train).float(), y_train=t(data.y_train).long(),
        task_index=t(data.task_index).long(), task_count=t(data.task_count).long(),
        task_group=t(data.task_group).long(), eval_index=eval_index,
        x_test=t(data.x_test).float(), y_test=t(data.y_test).long(),
        group_of_class=group_of_class, members=members, sizes=sizes,
        eval_group_mean=eval_group / eval_group.sum(0).clamp_min(1),
        noise_label_weights=weights)


# --- networks --------------------------------------------------------------------------------

def lecun_normal_(weight: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flax's default kernel init: normal truncated at 2 sd, std ``sqrt(1/fan_in) / .8796``
    (the correction makes the truncated distribution's std ``sqrt(1/fan_in)``)."""
    std = math.sqrt(1.0 / weight.shape[1]) / 0.87962566103423978
    with torch.no_grad():
        return nn.init.trunc_normal_(weight, 0.0, std, -2 * std, 2 * std, generator=generator)


class MLP(nn.Sequential):
    """Linear layers with ``activation`` between them, initialised like Flax ``nn.Dense``
    (lecun_normal weights, zero biases)."""

    def __init__(self, sizes: list[int], activation: type[nn.Module],
                 generator: torch.Generator):
        layers: list[nn.Module] = []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(nn.Linear(fan_in, fan_out))
            if i < len(sizes) - 2:
                layers.append(activation())
        super().__init__(*layers)
        for layer in self:
            if isinstance(layer, nn.Linear):
                lecun_normal_(layer.weight, generator)
                nn.init.zeros_(layer.bias)


def student_mlp(config: Config, in_dim: int, generator: torch.Generator) -> MLP:
    """The ReLU MLP classifier of ``config.student``."""
    return MLP([in_dim, *config.student.hidden, config.data.num_classes], nn.ReLU, generator)


def teacher_mlp(config: Config, generator: torch.Generator) -> MLP:
    """The teacher's tanh MLP from its one-number observation to task logits."""
    return MLP([1, *config.teacher.hidden, config.num_tasks], nn.Tanh, generator)


TEACHER_OBS = torch.ones(1)  # the teacher's observation: the constant first step of an episode


# --- environment -----------------------------------------------------------------------------

def randint_below(high: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Uniform integers in ``[0, high)`` elementwise (``high`` a tensor of counts)."""
    u = torch.rand(high.shape, generator=generator, dtype=torch.float64)
    return torch.minimum((u * high).long(), high - 1)


def label_within_group(labels: torch.Tensor, data: TorchData,
                       generator: torch.Generator) -> torch.Tensor:
    """A label drawn uniformly within each true label's group."""
    group = data.group_of_class[labels]
    return data.members[group, randint_below(data.sizes[group], generator)]


def initial_labels(data: TorchData, label_mode: str, generator: torch.Generator) -> torch.Tensor:
    """The labels the student trains on: the run's fixed relabel (``curriculum``) or the true
    ones (``clean``; ``noise`` draws fresh labels at every draw instead)."""
    if label_mode == "curriculum":
        return label_within_group(data.y_train, data, generator)
    return data.y_train


def sample_tasks(logits: torch.Tensor | None, num_tasks: int, batch: int,
                 generator: torch.Generator, leading: tuple[int, ...] = ()) -> torch.Tensor:
    """``batch`` tasks per row of ``logits`` (categorical), or uniform when ``logits`` is None."""
    if logits is None:
        return torch.randint(0, num_tasks, (*leading, batch), generator=generator)
    probs = torch.softmax(logits.detach(), -1)
    return torch.multinomial(probs, batch, replacement=True, generator=generator)


def draw_batch(tasks: torch.Tensor, labels: torch.Tensor, data: TorchData, label_mode: str,
               generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A random training image of each task and the label the student sees. ``labels`` has
    the leading axes of ``tasks`` minus the last (one relabelled copy per seed) or none."""
    index = data.task_index[tasks, randint_below(data.task_count[tasks], generator)]
    if label_mode == "noise":
        return data.x_train[index], label_within_group(data.y_train[index], data, generator)
    return data.x_train[index], torch.gather(labels, -1, index)


# --- student and signals ---------------------------------------------------------------------

def per_sample_losses(model: nn.Module, params: dict, x: torch.Tensor,
                      y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each sample, ``[B]``, for parameters ``params`` of ``model``."""
    return F.cross_entropy(functional_call(model, params, (x,)), y, reduction="none")


def gradient_norms(model: nn.Module, params: dict, x: torch.Tensor,
                   y: torch.Tensor) -> torch.Tensor:
    """``||g_b||_2`` of every sample's loss gradient, from ``vmap(grad)`` per-sample grads
    (what the authors' per-sample-gradient code computes)."""

    def one(p, xb, yb):
        return per_sample_losses(model, p, xb[None], yb[None])[0]

    grads = vmap(grad(one), in_dims=(None, 0, 0))(params, x, y)
    norms = [torch.linalg.vector_norm(g.flatten(1), dim=1) for g in grads.values()]
    return torch.linalg.vector_norm(torch.stack(norms), dim=0)


def ghost_gradient_norms(model: MLP, params: dict, x: torch.Tensor,
                         y: torch.Tensor) -> torch.Tensor:
    """The same norms from one backward pass: ``sum_layers (|x_b|^2 + 1) |delta_b|^2`` with
    ``delta_b`` each Linear's output cotangent (Goodfellow 2015), as jaxcurr's ghost path."""
    children = list(model.named_children())

    def total(perturbations):
        h, inputs, pending = x, [], iter(perturbations)
        for name, layer in children:
            if isinstance(layer, nn.Linear):
                inputs.append(h)
                h = F.linear(h, params[f"{name}.weight"], params[f"{name}.bias"])
                h = h + next(pending)
            else:
                h = layer(h)
        return F.cross_entropy(h, y, reduction="sum"), inputs

    zeros = [x.new_zeros(x.shape[0], layer.out_features)
             for _, layer in children if isinstance(layer, nn.Linear)]
    deltas, inputs = grad(total, has_aux=True)(zeros)
    squares = [(h.square().sum(-1) + 1) * d.square().sum(-1)
               for h, d in zip(inputs, deltas, strict=True)]
    return torch.stack(squares).sum(0).sqrt()


def momentum_direction(m: dict, v: dict, step: float, signal: SignalConfig, b1: float,
                       b2: float) -> dict:
    """``u = m / (v + eps)`` or ``m / (sqrt(v) + eps)``; with ``bias_correction`` m, v are
    divided by ``1 - b^t`` first; 0 where the denominator is 0 (before the first step)."""
    if signal.bias_correction and step > 0:
        m = {k: a / (1 - b1**step) for k, a in m.items()}
        v = {k: a / (1 - b2**step) for k, a in v.items()}
    out = {}
    for k in m:
        denom = (v[k] if signal.denominator == "v" else v[k].sqrt()) + signal.eps
        positive = denom > 0
        out[k] = torch.where(positive, m[k] / torch.where(positive, denom, 1), 0)
    return out


def momentum_correlations(losses: Callable[[dict], torch.Tensor], params: dict,
                          u: dict) -> torch.Tensor:
    """``|g_b . u|`` for every sample: one forward-mode JVP of the per-sample loss vector
    ``losses(params)`` along ``u``."""
    _, dots = jvp(losses, (params,), (u,))
    return dots.abs()


# --- teacher ---------------------------------------------------------------------------------

def reinforce_loss(logits: torch.Tensor, tasks: torch.Tensor, rewards: torch.Tensor,
                   reference: torch.Tensor, cfg: TeacherConfig) -> tuple[torch.Tensor, ...]:
    """``L = -mean_j(A_j log pi(a_j)) - c H(pi)``, ``A = r - b`` (divided by its std when
    ``normalize_advantages``). Shapes ``[..., K]``, ``[..., B]``, ``[..., B]``, ``[...]``;
    returns ``L`` summed over the leading axes (seeds learn independently) and ``H [...]``."""
    log_probs = torch.log_softmax(logits, -1)
    entropy = -(log_probs.exp() * log_probs).sum(-1)
    advantages = rewards - reference[..., None]
    if cfg.normalize_advantages:
        advantages = advantages / (advantages.std(-1, correction=0, keepdim=True) + 1e-8)
    pg = -(advantages * torch.gather(log_probs, -1, tasks)).mean(-1)
    return (pg - cfg.entropy_coef * entropy).sum(), entropy


def baseline_reference(rewards: torch.Tensor, ema: torch.Tensor, cfg: TeacherConfig):
    """The REINFORCE baseline ``b`` for this batch, and the updated EMA of mean rewards."""
    mean = rewards.mean(-1)
    reference = mean if cfg.baseline == "batch_mean" else ema
    return reference, cfg.baseline_decay * ema + (1 - cfg.baseline_decay) * mean


# --- metrics ---------------------------------------------------------------------------------

class Window:
    """Per-window accumulators: group visit counts, summed mean rewards and training losses."""

    def __init__(self, num_groups: int, leading: tuple[int, ...] = ()):
        self.counts = torch.zeros(*leading, num_groups)
        self.reward = torch.zeros(leading)
        self.loss = torch.zeros(leading)
        self.steps = 0

    def add(self, tasks, rewards, loss, data: TorchData):
        groups = data.task_group[tasks]
        self.counts += F.one_hot(groups, data.num_groups).sum(-2)
        self.reward += rewards.mean(-1)
        self.loss += loss
        self.steps += 1


def window_metrics(eval_logits: torch.Tensor, test_logits: torch.Tensor,
                   eval_labels: torch.Tensor, task_probs: torch.Tensor, window: Window,
                   data: TorchData, label_mode: str) -> dict[str, torch.Tensor]:
    """The JAX engine's logged metrics of one window (same names and meanings)."""
    if label_mode == "noise":  # expected loss under the group's label distribution
        eval_losses = -(torch.log_softmax(eval_logits, -1) * data.noise_label_weights).sum(-1)
    else:
        eval_losses = -torch.gather(torch.log_softmax(eval_logits, -1), -1,
                                    eval_labels[..., None])[..., 0]
    predicted = test_logits.argmax(-1)
    group_of = data.group_of_class
    return {
        "group_loss": eval_losses @ data.eval_group_mean,
        "group_share": window.counts / window.counts.sum(-1, keepdim=True),
        "task_probs": task_probs,
        "teacher_entropy": -(task_probs * task_probs.clamp_min(1e-30).log()).sum(-1),
        "mean_reward": window.reward / window.steps,
        "train_loss": window.loss / window.steps,
        "test_accuracy": (predicted == data.y_test).float().mean(-1),
        "test_group_accuracy": (group_of[predicted] == group_of[data.y_test]).float().mean(-1),
    }


def uniform_probs(num_tasks: int, leading: tuple[int, ...] = ()) -> torch.Tensor:
    """The no-teacher baseline's task probabilities, ``1 / K`` each."""
    return torch.full((*leading, num_tasks), 1.0 / num_tasks)


def seed_generator(config: Config, seed: int, stream: int = 0,
                   device: str = "cpu") -> torch.Generator:
    """An independent torch generator for (run.seed, seed index, stream) on ``device`` (a CUDA
    generator draws other numbers than a CPU one from the same seed)."""
    return torch.Generator(device=device).manual_seed(
        (config.run.seed * 1_000_003 + seed) * 1_009 + stream)


def check_steps(config: Config, steps: int | None) -> int:
    steps = config.run.steps if steps is None else steps
    if steps <= 0 or steps % config.run.log_every:
        raise ValueError(f"steps: got {steps}; allowed: a positive multiple of run.log_every "
                         f"({config.run.log_every})")
    return steps


# --- comparison with the JAX engine ----------------------------------------------------------

def parity_table(config: Config, jax_metrics: dict, torch_metrics: dict) -> str:
    """Markdown table per method and group: mean +- 95% CI over seeds of the final eval loss
    and of the sampling share over the whole run, JAX beside torch, with Welch's p-value."""
    lines = ["| method | group | final loss, JAX | final loss, torch | p | share, JAX "
             "| share, torch | p |", "|---|---|---|---|---|---|---|---|"]

    def cell(values):
        mean, half = mean_ci(values)
        return [f"{m:.3f} ± {h:.3f}" for m, h in zip(mean, half, strict=True)]

    for method in config.run.methods:
        columns = []
        for name, reduce in (("group_loss", lambda a: a[:, -1]),
                             ("group_share", lambda a: a.mean(1))):
            a = reduce(jax_metrics[f"{method}/{name}"])
            b = reduce(torch_metrics[f"{method}/{name}"])
            p = scipy.stats.ttest_ind(a, b, equal_var=False).pvalue
            columns.append((cell(a), cell(b), [f"{v:.2f}" for v in np.nan_to_num(p, nan=1)]))
        for g, group in enumerate(config.data.groups):
            row = [method, "{" + ",".join(map(str, group)) + "}"]
            for a, b, p in columns:
                row += [a[g], b[g], p[g]]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def write_parity(path: str, config: Config, data: TaskData, torch_metrics: dict,
                 torch_seconds: float) -> None:
    """Run the JAX engine on the same config and data; write the parity table to ``path``."""
    started = time.perf_counter()
    result = runner.run(config, data, progress=False)
    jax_seconds = time.perf_counter() - started
    text = [f"# PyTorch baseline vs JAX engine: {config.name}", "",
            f"{config.run.seeds} seeds x {config.run.steps} steps, labels "
            f"{config.data.label_mode}, teacher picks a {config.teacher.tasks}; final = last "
            f"logged window (every {config.run.log_every} steps); share = sampling share over "
            "the whole run; mean ± 95% Student-t CI over seeds; p = Welch t-test of equal "
            "means (the implementations use different random streams, so only the "
            "distributions over seeds can agree).", "",
            "Made with: `" + " ".join(["python", *sys.argv]) + "`", "",
            f"Wall time on this (shared, busy) machine, indicative only: torch "
            f"{torch_seconds:.0f} s, JAX {jax_seconds:.0f} s (compile included; torch "
            f"{torch.__version__}, {torch.get_num_threads()} threads).", "",
            parity_table(config, result.metrics, torch_metrics), ""]
    Path(path).write_text("\n".join(text))


# --- command line ----------------------------------------------------------------------------

def main(run: Callable, description: str, argv: list[str] | None = None) -> dict:
    """``EXPERIMENT_TOML --seeds N --steps M [--set key=value ...] [--parity PATH.md]``: run
    the baseline and print a JSON summary
    (``jaxcurr.kinds.classifier_curriculum_report.summarize``) with the wall time; with
    ``--parity``, also run the JAX engine and write the comparison table."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("experiment", help="experiment .toml file")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--parity", metavar="PATH.md",
                        help="also run the JAX engine and write a parity table here")
    args = parser.parse_args(argv)
    overrides = list(args.set)
    if args.seeds is not None:
        overrides.append(f"run.seeds={args.seeds}")
    if args.steps is not None:
        overrides.append(f"run.steps={args.steps}")
    config = load_config(args.experiment, overrides)
    data = prepare_data(load_dataset(config.data), config)
    started = time.perf_counter()
    metrics = run(config, data, config.run.seeds)
    seconds = time.perf_counter() - started
    summary = summarize(config, metrics)
    summary["wall_seconds"] = round(seconds, 3)
    summary["seed_steps_per_second"] = round(config.run.seeds * config.run.steps / seconds, 2)
    summary["torch"] = {"version": torch.__version__, "threads": torch.get_num_threads()}
    print(json.dumps(summary))
    if args.parity:
        write_parity(args.parity, config, data, metrics, seconds)
    return summary


def method_signal(method: str, config: Config) -> str:
    """The signal of a ``run.methods`` name; these baselines have REINFORCE teachers only."""
    teacher, signal = teacher_and_signal(method, config.teacher.kind)
    if teacher not in ("reinforce", "uniform"):
        raise ValueError(f"run.methods: got {method!r}; allowed for the PyTorch baselines: "
                         "methods with the REINFORCE teacher (or uniform)")
    return signal
