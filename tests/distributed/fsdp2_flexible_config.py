_base_ = ["./flexible_config.py"]

strategy = dict(type="FSDP2Strategy")
default_hooks = dict(checkpoint=dict(type="CheckpointHook", interval=1, max_keep_ckpts=3))
