# MMPose's top-down heatmap HRNet-W32 on COCO at 256x192, unchanged: Adam lr 5e-4, 500-iteration
# linear warm-up, MultiStepLR at epochs 170 and 200, 210 epochs, batch 64 per GPU (8 GPUs),
# auto_scale_lr base 512, MSRA heatmap codec, flip test, CocoMetric, ImageNet-pretrained backbone.
_base_ = "mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_hrnet-w32_8xb64-210e_coco-256x192.py"

custom_imports = dict(
    imports=["arsam.core.mmengine_adapter", "arsam.tasks.pose"], allow_failed_imports=False
)
