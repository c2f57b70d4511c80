# Digits: the same cosine recipe over 15 epochs.
# The scheduler's end and period default to train_cfg.max_epochs, so overriding
# max_epochs shortens the whole schedule.
train_cfg = dict(by_epoch=True, max_epochs=15, val_interval=1)
val_cfg = dict()
test_cfg = dict()

param_scheduler = [
    dict(type="CosineAnnealingLR", by_epoch=True, convert_to_iter_based=True, begin=0, eta_min=0.0),
]

auto_scale_lr = dict(enable=False, base_batch_size=64)
