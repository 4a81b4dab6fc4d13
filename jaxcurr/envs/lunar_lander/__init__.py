"""Gymnasium's LunarLander-v3 with Box2D 2.3's step written in JAX
(:mod:`~jaxcurr.envs.lunar_lander.env`)."""
