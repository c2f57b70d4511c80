# CIFAR-100: CIFAR-10's recipe with its own folder, dataset class and channel statistics.
_base_ = ["./cifar10.py"]

dataset_type = "CIFAR100Dataset"
data_root = "data/cifar100"
mean = [129.304, 124.070, 112.434]
std = [68.170, 65.392, 70.418]

data_preprocessor = dict(mean=mean, std=std)
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        pipeline=[
            dict(type="RandomPadCrop", size=32, padding=4),
            dict(type="RandomHorizontalFlip", prob=0.5),
            dict(type="Cutout", size=16, fill=mean),
            dict(type="PackClsInputs"),
        ],
    )
)
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
