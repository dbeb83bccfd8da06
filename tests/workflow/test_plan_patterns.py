"""The rule files and the plan agree: every file the plan says a table reads (evaluations, their training jobs'
weights, logs and benchmark files, the data jobs' benchmarks) is a file of the rule the plan says makes it, by
Snakemake's own matching of that rule's patterns. If a rule's pattern drifted from ``editrepro.plan.Layout``, a
table's Compute section would silently lose rows; this fails instead. The workflow is parsed in-process (no job
runs), for the demo and the paper configs."""
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import copy_workflow

from editrepro.plan import TRAIN_RULES
from editrepro.tables.jobs import benchmarks_of, cells_of, jobs_of


@contextmanager
def parsed_workflow(work: Path, configfile: str):
    """Snakemake's Workflow object of the Snakefile in ``work`` with ``configfile``, parsed, not run."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings, StorageSettings

    with SnakemakeApi(OutputSettings()) as api:
        workflow = api.workflow(resource_settings=ResourceSettings(), storage_settings=StorageSettings(),
                                config_settings=ConfigSettings(configfiles=[work / configfile]),
                                snakefile=work / "Snakefile", workdir=work)
        yield workflow._workflow


def matches(iofile, path: str) -> bool:
    return iofile is not None and iofile.match(path) is not None


@pytest.mark.parametrize("configfile", ["config/config.yaml", "config/paper.yaml"])
def test_every_planned_file_is_made_by_the_rule_the_plan_names(tmp_path, monkeypatch, configfile):
    work = copy_workflow(tmp_path / "wf")
    monkeypatch.chdir(work)
    with parsed_workflow(work, configfile) as workflow:
        g = workflow.globals
        plan, evaluate = g["PLAN"], workflow.get_rule("evaluate")    # the plan the Snakefile built from the config
        layout = plan.layout
        train_rules = [workflow.get_rule(spec.name) for spec in TRAIN_RULES]
        checked = 0
        for table in g["PLANNED_TABLES"]:
            for cell in cells_of(plan, table):
                assert evaluate.is_producer(layout.eval_json(cell.run, cell.model, cell.seed)), cell
                assert matches(evaluate.benchmark, layout.bench("eval", cell.run, cell.model, cell.seed)), cell
                for job in jobs_of(plan, cell):
                    weights = layout.weights(job["run"], job["model"], job["seed"])
                    makers = [rule.name for rule in train_rules if rule.is_producer(weights)]
                    assert makers == [job["rule"]], (weights, makers)
                    rule = workflow.get_rule(job["rule"])
                    assert matches(rule.benchmark, layout.bench("runs", job["run"], job["model"], job["seed"]))
                    assert any(matches(log, job["log"]) for log in rule.log), (job["log"], rule.log)
                    checked += 1
            # every benchmark file the table's Compute section reads is some rule's benchmark file
            for path in benchmarks_of(plan, table):
                assert any(matches(rule.benchmark, path) for rule in workflow.rules), path
        assert checked > 10
