# Everything of the digits runs except the optimizer.
_base_ = [
    "./models/resnet_digits.py",
    "./datasets/digits.py",
    "./schedules/digits_15e.py",
    "./default_runtime.py",
]

default_hooks = dict(logger=dict(interval=10))
log_processor = dict(window_size=10)
