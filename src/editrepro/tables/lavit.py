"""LaViT's table: LaViT and the PVTv2 it modifies, trained from scratch on ImageNet-1k by one recipe
(``lavit_224``), and as backbones of RetinaNet on COCO (``coco_1x``, ``coco_3x``) and of Semantic FPN and UperNet on
ADE20K (``ade20k_semantic_fpn``, ``ade20k_upernet``), each from its ImageNet-1k run of the same seed."""
from ..reporting.results import collect_lavit
from ..reporting.tables import lavit_sections
from .base import Cell, Evaluation, Table, register


@register
class LaViTTable(Table):
    name = "lavit"
    title = "LaViT against the PVTv2 it modifies: ImageNet-1k, COCO and ADE20K"
    evaluations = (
        Evaluation(r"lavit_224",
                   tags=lambda plan, run, model, seed: dict(table="lavit", row=model, resolution="224", stage=run,
                                                            config=plan.name, seed=seed),
                   reads=lambda run: "imagenet1k", waits=True, names=True),
        # COCOeval box AP of RetinaNet; single- and multi-scale mIoU of Semantic FPN and UperNet
        Evaluation(r"coco_(1x|3x)|ade20k_(semantic_fpn|upernet)",
                   tags=lambda plan, run, model, seed: {**plan.dense_tags(run, model), "seed": seed},
                   reads=lambda run: "coco" if run.startswith("coco_") else "ade20k", waits=True, names=False),
    )

    def cells(self, plan):
        spec, seeds = plan.table_spec("lavit"), plan.seeds_of("lavit")
        det, seg = spec["dense"]["detection"], spec["dense"]["segmentation"]
        cells = [Cell("lavit", "lavit_224", m, s, resolution=224) for m in spec["models"] for s in seeds]
        cells += [Cell("lavit", f"coco_{sch}", m, s, half=f"coco_{sch}")
                  for sch in det["schedules"] for m in det["models"] for s in seeds]
        return cells + [Cell("lavit", f"ade20k_{h}", m, s, half=f"ade20k_{h}")
                        for h in seg["heads"] for m in seg["models"] for s in seeds]

    def collect(self, evals, paper_tables, config_name, comparable):
        from ..analysis import counting   # the counted cells: models built on the meta device

        return collect_lavit(evals, paper_tables, config_name, comparable, counter=counting)

    def sections(self, cells):
        return lavit_sections(cells)
