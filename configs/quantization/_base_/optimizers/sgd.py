_base_ = ["../../../classification/_base_/optimizers/sgd.py"]

# Learned quantizer scales: no weight decay (it would pull them towards zero).
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={"scaling_impl.value": dict(decay_mult=0.0)}))
