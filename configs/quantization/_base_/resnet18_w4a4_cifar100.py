# Everything of a quantized ResNet-18 run on CIFAR100 except the optimizer.
_base_ = [
    "./models/quant_resnet18.py",
    "../../classification/_base_/datasets/cifar100.py",
    "../../classification/_base_/schedules/cifar_200e.py",
    "./default_runtime.py",
]

model = dict(backbone=dict(num_classes=100))
