# Momentum-SAM: one pass per step, at w - rho v/||v|| (v: SGD's momentum). Its rho is a length
# along the normalised momentum, not SAM's radius: the official CIFAR configs use 3 where SAM
# uses 0.2 (docs/benchmarks.md, "Each method at its own radius").
_base_ = ["./sam.py"]

optim_wrapper = dict(optimizer=dict(type="MomentumSAM", rho=3.0))
