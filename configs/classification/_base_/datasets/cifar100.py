dataset_type = "CIFAR100Dataset"
data_root = "data/cifar100"
mean = [129.304, 124.070, 112.434]
std = [68.170, 65.392, 70.418]

data_preprocessor = dict(type="ClsDataPreprocessor", mean=mean, std=std)

# Random crop 32 with padding 4, horizontal flip, Cutout 16 (filled with the mean, i.e. zero
# after normalisation).
train_pipeline = [
    dict(type="RandomPadCrop", size=32, padding=4),
    dict(type="RandomHorizontalFlip", prob=0.5),
    dict(type="Cutout", size=16, fill=mean),
    dict(type="PackClsInputs"),
]
test_pipeline = [dict(type="PackClsInputs")]

train_dataloader = dict(
    batch_size=128,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="default_collate"),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split="train",
        pipeline=train_pipeline,
        download=False,
    ),
)
val_dataloader = dict(
    batch_size=256,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="default_collate"),
    dataset=dict(
        type=dataset_type, data_root=data_root, split="test", pipeline=test_pipeline, download=False
    ),
)
val_evaluator = dict(type="Accuracy", topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
