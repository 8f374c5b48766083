"""Trying a kept run: its weights go into the graph it was trained with (kept in its folder),
or the model as it is now for older runs, built and loaded off the GUI thread."""

from __future__ import annotations

import copy

from studio.graph.project import Project, ProjectError, load_project
from studio.training.settings import TrainingSettings


def run_project(rec, project: Project, graph) -> tuple[Project, str]:
    """(the project `rec`'s weights fit, how to name it): its own graph when it kept one, else
    `graph` (a copy of the model as it is now)."""
    how = "the model as it is now"
    if rec.model_file is not None:
        try:
            graph, how = load_project(rec.model_file).graph, "the model as it was trained"
        except ProjectError:  # a damaged copy: try the current model instead
            pass
    return Project(project.name, graph, copy.deepcopy(rec.settings), path=project.path), how


def load_run(rec, project: Project, graph, panel, accept) -> bool:
    """Start loading `rec` for the try-it `panel`; `accept(model, data)` gets the result on the
    GUI thread (it returns False when the result is no longer wanted: a run started meanwhile)."""
    from studio.training.prepare import load_trained
    from studio.ui.jobs import Job

    weights = rec.weights or rec.last_checkpoint
    if weights is None:
        return False
    project, how = run_project(rec, project, graph)
    settings = TrainingSettings.from_dict(rec.settings)
    panel.message.setText(f"Loading the weights of run {rec.id} into {how}…")
    job = Job(lambda: load_trained(project, settings, weights))

    def loaded(prepared) -> None:
        if accept(prepared.model, prepared.data):
            panel.run()

    job.succeeded.connect(loaded)
    job.failed.connect(lambda e: panel.message.setText(f"Run {rec.id}: {e}"))
    job.begin()
    return True
