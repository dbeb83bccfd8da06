"""Analyses of any timm ViT-family model, the pipeline's own or published ones.

- ``attention``: the attention-sink and attention-saturation measures (per layer, from the maps
  ``editrepro.models.capture_attention`` records), shared by the report's Fig. 1, LaViT's Fig. 3 and
  the ``attention-sink`` / ``attention-saturation`` commands.
- ``sources``: where a model comes from (timm's pretrained weights, a checkpoint file loaded through
  timm, a training job's ``model.pth``), its data config, and sample images from any folder.
- ``plots``: Fig. 1 (a) curves and (b) the 16 x 16 corners of every layer's map.
- ``figures``: the report's figures that run the pipeline's models (Fig. 1 of DeiT III beside EDIT, Fig. 5), and
  the per-layer similarities of LaViT's Fig. 3.
- ``calibration``: ImageNet-1k top-1 of a timm model with the pipeline's evaluation loop.

Nothing here is imported by ``import editrepro``; ``sources`` imports torch and timm only when called.
"""
