# Everything of the quantized digits runs except the optimizer: a few minutes on a CPU.
_base_ = [
    "./models/quant_resnet_digits.py",
    "../../classification/_base_/datasets/digits.py",
    "../../classification/_base_/schedules/digits_15e.py",
    "./default_runtime.py",
]

default_hooks = dict(logger=dict(interval=10))
log_processor = dict(window_size=10)
