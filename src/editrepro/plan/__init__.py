"""The workflow's plan, torch-free and pandas-free: where every file goes (``layout``), the training stages and the
rules that run them (``stages``), and a configuration's jobs as structured identities (``plan``). The rule files and
the collectors read these, so a path, a run folder or a tag is written once."""
from .layout import Layout
from .plan import LAVIT_ARCHS, LAVIT_STRIDE, Plan, TrainJob, json_flags, tag_flags
from .stages import STAGES, TRAIN_RULES, TrainRule

__all__ = ["Layout", "Plan", "TrainJob", "TrainRule", "STAGES", "TRAIN_RULES", "LAVIT_ARCHS", "LAVIT_STRIDE",
           "json_flags", "tag_flags"]
