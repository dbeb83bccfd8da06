"""Object detection for LaViT's COCO table: torchvision's RetinaNet over the pipeline's pyramid backbones,
scored by COCO's own evaluation (``pycocotools``)."""
from .model import PAPER_INPUT, BackboneFPN, create_detector, detector_complexity

__all__ = ["BackboneFPN", "create_detector", "detector_complexity", "PAPER_INPUT"]
