"""Where every file of a configuration's run goes: one definition read by the rule files (their outputs, logs and
benchmarks, written as patterns by calling these with ``"{model}"``-style wildcards) and by the collectors (the
files of a planned job). ``tests/workflow/test_plan_patterns.py`` checks that each rule's files are these patterns.

    results/<name>/runs/<run>/<model>/seed<N>/{model.pth,metrics.json,checkpoint.pth,log.jsonl}   a training job
    results/<name>/eval/<run>/<model>/seed<N>.json                                               its evaluation
    logs/<name>/benchmarks/{runs,eval}/<run>/<model>/seed<N>.tsv                                 their benchmark files
    logs/<name>/<log folder>/<model>/seed<N>.log                                                 a training job's log
"""
from dataclasses import dataclass

__all__ = ["Layout"]


@dataclass(frozen=True)
class Layout:
    """The folders of configuration ``name`` (its ``name:``), relative to the workflow's root."""

    name: str

    @property
    def results(self) -> str:
        return f"results/{self.name}"

    @property
    def runs(self) -> str:
        return f"{self.results}/runs"

    @property
    def evals(self) -> str:
        return f"{self.results}/eval"

    @property
    def logs(self) -> str:
        return f"logs/{self.name}"

    def run_dir(self, run, model, seed) -> str:
        """A training job's folder: checkpoints, metrics.json, log.jsonl."""
        return f"{self.runs}/{run}/{model}/seed{seed}"

    def weights(self, run, model, seed) -> str:
        return f"{self.run_dir(run, model, seed)}/model.pth"

    def metrics(self, run, model, seed) -> str:
        return f"{self.run_dir(run, model, seed)}/metrics.json"

    def eval_json(self, run, model, seed) -> str:
        """The evaluation of a training job: the JSON whose tags say which table cell it fills."""
        return f"{self.evals}/{run}/{model}/seed{seed}.json"

    def bench(self, kind: str, run, model, seed) -> str:
        """A job's Snakemake benchmark file (kind: runs = training, eval = evaluation)."""
        return f"{self.logs}/benchmarks/{kind}/{run}/{model}/seed{seed}.tsv"

    def data_bench(self, job: str) -> str:
        """The benchmark file of a data job (demo_data, clean_in21k, resize_in21k, in21k_p)."""
        return f"{self.logs}/benchmarks/data/{job}.tsv"

    def train_log(self, folder: str, model, seed) -> str:
        """A training job's log: ``folder`` is its rule's (pretrain_in1k, finetune_in21k/{res}, ...)."""
        return f"{self.logs}/{folder}/{model}/seed{seed}.log"

    def eval_log(self, run, model, seed) -> str:
        return f"{self.logs}/evaluate/{run}/{model}/seed{seed}.log"

    def table(self, table: str) -> str:
        """A table's cells, one row per seed (editrepro aggregate)."""
        return f"{self.results}/{table}.parquet"

    def table_jobs(self, table: str) -> str:
        return f"{self.results}/{table}_jobs.parquet"
