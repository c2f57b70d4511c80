# scikit-learn's bundled digits (no download): 1347 train / 450 test images, 16x16 grayscale.
dataset_type = "DigitsDataset"
mean = [78.1]
std = [96.0]

data_preprocessor = dict(type="ClsDataPreprocessor", mean=mean, std=std)

train_pipeline = [
    dict(type="RandomPadCrop", size=16, padding=2),
    dict(type="PackClsInputs"),
]
test_pipeline = [dict(type="PackClsInputs")]

train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="default_collate"),
    dataset=dict(type=dataset_type, split="train", scale=2, pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=256,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="default_collate"),
    dataset=dict(type=dataset_type, split="test", scale=2, pipeline=test_pipeline),
)
val_evaluator = dict(type="Accuracy", topk=(1,))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
