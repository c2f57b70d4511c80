_base_ = ["./_base_/digits.py", "./_base_/optimizers/arsam_paper.py"]

# Digits has 21 steps per epoch: a 10-step window lets the quota adapt ~30 times in 15 epochs.
optim_wrapper = dict(optimizer=dict(warmup_epochs=1, window=10))
