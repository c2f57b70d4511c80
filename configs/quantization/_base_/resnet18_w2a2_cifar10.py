_base_ = ["./resnet18_w4a4_cifar10.py"]

model = dict(backbone=dict(weight_bits=2, act_bits=2))
