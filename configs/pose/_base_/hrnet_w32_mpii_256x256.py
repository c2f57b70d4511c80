# MMPose's top-down heatmap HRNet-W32 on MPII at 256x256 with the PCKh metric (MpiiPCKAccuracy).
_base_ = "mmpose::body_2d_keypoint/topdown_heatmap/mpii/td-hm_hrnet-w32_8xb64-210e_mpii-256x256.py"

custom_imports = dict(
    imports=["arsam.core.mmengine_adapter", "arsam.tasks.pose"], allow_failed_imports=False
)

# MMPose's file sets 16 images per GPU although its name, recipe and auto_scale_lr (512 = 8x64)
# say 64; use the recipe's 64.
train_dataloader = dict(batch_size=64)
