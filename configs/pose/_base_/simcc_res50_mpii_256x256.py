# MMPose's SimCC with a ResNet-50 backbone (no deconvolution layers) on MPII at 256x256, PCKh.
_base_ = "mmpose::body_2d_keypoint/simcc/mpii/simcc_res50_wo-deconv-8xb64-210e_mpii-256x256.py"

custom_imports = dict(
    imports=["arsam.core.mmengine_adapter", "arsam.tasks.pose"], allow_failed_imports=False
)
