_base_ = ["./_base_/digits_w4a4.py", "./_base_/optimizers/arsam_paper.py"]

# As for the float digits runs: 21 steps per epoch, so one warm-up epoch and a 10-step window.
optim_wrapper = dict(optimizer=dict(warmup_epochs=1, window=10))
