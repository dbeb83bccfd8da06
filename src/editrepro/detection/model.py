""" RetinaNet over a pyramid backbone: torchvision's detector, this package's backbones

Paper: `Focal Loss for Dense Object Detection` - https://arxiv.org/abs/1708.02002 (Lin et al.)

What the backbone comparisons of PVT, PVTv2 and LaViT run (mmdetection's ``retinanet_fpn``
with a pyramid backbone), built from torchvision's parts: the backbone's stages 2-4 (C3-C5,
strides 8/16/32) into torchvision's ``FeaturePyramidNetwork`` (256 channels), P6 and P7 from C5
itself (``LastLevelP6P7`` on the input, mmdetection's ``add_extra_convs='on_input'``), and
torchvision's ``RetinaNet``: its anchors (sizes 32-512 with three scales and three ratios per
level), heads (four 3 x 3 convs, prior 0.01), focal and L1 losses, matching (IoU 0.5 / 0.4),
resizing (``GeneralizedRCNNTransform``: shorter side ``min_size``, longer at most ``max_size``,
ImageNet normalisation, padding to a multiple of 32) and postprocessing (score 0.05, NMS 0.5,
100 detections per image, as mmdetection's test config). Only the adapter is written here.
"""
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import nn
from torchvision.models.detection import RetinaNet
from torchvision.ops import FeaturePyramidNetwork
from torchvision.ops.feature_pyramid_network import LastLevelP6P7

from ..data.transforms import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from ..models.pyramid import PyramidFeatures

__all__ = ["BackboneFPN", "create_detector", "detector_complexity", "PAPER_INPUT"]

PAPER_INPUT = (800, 1280)   # (H, W): the input the papers count a detector's FLOPs at ("1280 x 800")


class BackboneFPN(nn.Module):
    """Backbone levels -> FPN -> ``OrderedDict`` of maps (P3 ... P7), the interface torchvision's detectors take.

    Declares ``out_channels`` (what the heads are built for) and ``strides`` (of each returned map).
    """

    def __init__(self, body: PyramidFeatures, out_channels: int = 256, extra_levels: bool = True):
        super().__init__()
        self.body = body
        extra = None
        if extra_levels:
            extra = LastLevelP6P7(body.channels[-1], out_channels)
            extra.use_P5 = False            # P6 from C5 ("on_input"), even when C5 has out_channels channels
        self.fpn = FeaturePyramidNetwork(list(body.channels), out_channels, extra_blocks=extra)
        self.out_channels = out_channels
        last = body.strides[-1]
        self.strides: List[int] = list(body.strides) + ([2 * last, 4 * last] if extra_levels else [])
        self.names: List[str] = [f"p{s.bit_length() - 1}" for s in self.strides]     # stride 8 -> p3

    def forward(self, x: torch.Tensor) -> "OrderedDict[str, torch.Tensor]":
        feats = self.body(x)
        out = self.fpn(OrderedDict((str(i), f) for i, f in enumerate(feats)))
        return OrderedDict(zip(self.names, out.values()))


def create_detector(backbone: str, num_classes: int, img_size: Optional[int] = None,
                    pretrained: Optional[str] = None, min_size: Union[int, Sequence[int]] = 800,
                    max_size: int = 1333, fpn_channels: int = 256, drop_path_rate: float = 0.1,
                    detections_per_img: int = 100, backbone_kwargs: Optional[Dict[str, Any]] = None) -> RetinaNet:
    """RetinaNet on a registered pyramid backbone, optionally from its ImageNet checkpoint.

    Args:
        backbone: ``lavit_*`` or ``pvt_v2_*``.
        num_classes: Object classes (80 for COCO: contiguous indices, no background class).
        img_size: The backbone's ImageNet training size (LaViT's transforms are built for it).
        pretrained: The backbone's ImageNet checkpoint (its classifier is dropped).
        min_size: Shorter side of the resized image; a sequence: one drawn per batch in training
            (multi-scale training of the 3x schedule), its largest at test time.
        max_size: Longest side at most.
        fpn_channels: Width of the FPN and the heads (256; the demo shrinks it).
    """
    body = PyramidFeatures(backbone, img_size=img_size, pretrained=pretrained, levels=(1, 2, 3),
                           drop_path_rate=drop_path_rate, model_kwargs=backbone_kwargs)
    sizes = tuple(int(s) for s in min_size) if isinstance(min_size, (list, tuple)) else (int(min_size),)
    model = RetinaNet(BackboneFPN(body, fpn_channels), num_classes=num_classes, min_size=sizes, max_size=max_size,
                      image_mean=list(IMAGENET_DEFAULT_MEAN), image_std=list(IMAGENET_DEFAULT_STD),
                      score_thresh=0.05, nms_thresh=0.5, detections_per_img=detections_per_img,
                      fg_iou_thresh=0.5, bg_iou_thresh=0.4, topk_candidates=1000)
    model.transform.size_divisible = 32   # the pyramid's stride (torchvision's default, stated)
    model.num_classes = num_classes
    return model


class _DenseForward(nn.Module):
    """The detector's network without resizing and postprocessing: what a FLOP count of it counts."""

    def __init__(self, detector: RetinaNet):
        super().__init__()
        self.backbone, self.head = detector.backbone, detector.head

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        return self.head(list(self.backbone(x).values()))


def detector_complexity(backbone: str, num_classes: int = 80, img_size: Optional[int] = None,
                        input_size: Tuple[int, int] = PAPER_INPUT, **kwargs) -> Dict[str, float]:
    """Parameters (M) and GMACs of the whole detector (backbone, FPN, heads) for one ``input_size``
    image (default 1280 x 800, the papers' convention), counted on the meta device like Table 1."""
    from ..models.complexity import count_params, measure

    with torch.device("meta"):
        det = create_detector(backbone, num_classes, img_size=img_size, drop_path_rate=0.0, **kwargs).eval()
    c = measure(_DenseForward(det), input_size, backbone)
    return {"params_m": count_params(det) / 1e6, "gmacs": c.gmacs}
