# Semantic segmentation (Table 5): Segmenter's Mask Transformer on the pipeline's backbones,
# trained on ADE20K. Rules arrive with issue 7.
