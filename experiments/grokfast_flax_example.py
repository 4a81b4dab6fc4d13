"""Grokfast in a plain Flax (linen) training loop, on a tiny synthetic classification task.

The task: 2-D points labelled by a fixed random teacher MLP, a small training set and a
larger test set, an MLP student trained full-batch with AdamW. It trains the same student twice
from the same initialisation, once with AdamW alone and once with
``optax.chain(grokfast_ema(), optax.adamw(...))``, and prints the losses and accuracies. The
only change Grokfast needs is that one ``optax.chain`` line; the gradient norms come from
``grad_stats`` in the same chain, with no extra computation.

Run:  python experiments/grokfast_flax_example.py --steps 300
"""

from __future__ import annotations

import argparse
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxcurr.transforms import grad_stats, grad_stats_dict, grokfast_ema


class MLP(nn.Module):
    hidden: int = 64
    classes: int = 2

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.relu(nn.Dense(self.hidden)(x))
        x = nn.relu(nn.Dense(self.hidden)(x))
        return nn.Dense(self.classes)(x)


def make_data(key: jax.Array, n_train: int = 128, n_test: int = 1024):
    """Points in [-1, 1]^2 labelled by a random teacher network (fixed by ``key``)."""
    k_teacher, k_train, k_test = jax.random.split(key, 3)
    teacher = MLP(hidden=16)
    teacher_params = teacher.init(k_teacher, jnp.zeros((1, 2)))
    x_train = jax.random.uniform(k_train, (n_train, 2), minval=-1.0, maxval=1.0)
    x_test = jax.random.uniform(k_test, (n_test, 2), minval=-1.0, maxval=1.0)
    label = lambda x: jnp.argmax(teacher.apply(teacher_params, x), axis=-1)
    return (x_train, label(x_train)), (x_test, label(x_test))


def train(optimizer: optax.GradientTransformation, params, data, steps: int) -> dict:
    """Full-batch training; returns final train/test loss and test accuracy."""
    (x_train, y_train), (x_test, y_test) = data
    model = MLP()

    def loss_fn(p, x, y):
        logits = model.apply(p, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), logits

    @jax.jit
    def step(p, opt_state):
        (loss, _), grads = jax.value_and_grad(loss_fn, has_aux=True)(p, x_train, y_train)
        updates, opt_state = optimizer.update(grads, opt_state, p)
        return optax.apply_updates(p, updates), opt_state, loss

    opt_state = optimizer.init(params)
    for _ in range(steps):
        params, opt_state, train_loss = step(params, opt_state)
    test_loss, logits = jax.jit(loss_fn)(params, x_test, y_test)
    stats = grad_stats_dict(opt_state)
    return {
        "train_loss": float(train_loss),
        "test_loss": float(test_loss),
        "test_acc": float(jnp.mean(jnp.argmax(logits, -1) == y_test)),
        "grad_norm": float(stats["global_norm"]),
    }


def main(argv: list[str] | None = None) -> dict[str, dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps per run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--alpha", type=float, default=0.98, help="Grokfast EMA momentum")
    parser.add_argument("--lamb", type=float, default=2.0, help="Grokfast amplification")
    args = parser.parse_args(argv)

    k_data, k_init = jax.random.split(jax.random.key(args.seed))
    data = jax.jit(make_data)(k_data)
    params = jax.jit(MLP().init)(k_init, jnp.zeros((1, 2)))

    optimizers = {
        "adamw": optax.chain(grad_stats(), optax.adamw(args.lr, weight_decay=1e-2)),
        "grokfast+adamw": optax.chain(
            grad_stats(),  # records the raw gradient norms
            grokfast_ema(alpha=args.alpha, lamb=args.lamb),  # the one added line
            optax.adamw(args.lr, weight_decay=1e-2),
        ),
    }
    results = {}
    for name, opt in optimizers.items():
        start = time.perf_counter()
        results[name] = train(opt, params, data, args.steps)
        results[name]["seconds"] = time.perf_counter() - start

    print(
        f"{'optimizer':<16}{'train loss':>12}{'test loss':>12}{'test acc':>10}"
        f"{'|grad|':>10}{'seconds':>9}"
    )
    for name, r in results.items():
        print(
            f"{name:<16}{r['train_loss']:>12.4f}{r['test_loss']:>12.4f}{r['test_acc']:>10.3f}"
            f"{r['grad_norm']:>10.4f}{r['seconds']:>9.2f}"
        )
    return results


if __name__ == "__main__":
    main()
