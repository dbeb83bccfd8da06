"""Semantic segmentation for Table 5: Segmenter's Mask Transformer on the pipeline's backbones."""
from .inference import multi_scale_logits, sliding_window_logits
from .metrics import ConfusionMatrix, mean_iou
from .model import MaskTransformer, Segmenter, create_segmenter, segmenter_params

__all__ = ["MaskTransformer", "Segmenter", "create_segmenter", "segmenter_params", "sliding_window_logits", "multi_scale_logits",
           "ConfusionMatrix", "mean_iou"]
