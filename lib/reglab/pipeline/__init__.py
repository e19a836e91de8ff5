"""Running the chapter's experiments: each run an executed training notebook with a record.

:mod:`~reglab.pipeline.experiments` (the seven runs as data), :mod:`~reglab.pipeline.record`
(one run: train, write ``<name>.json`` and ``<name>.npz``), :mod:`~reglab.pipeline.notebooks`
(papermill and kernel helpers), :mod:`~reglab.pipeline.tasks` (a run as a task, executed here),
:mod:`~reglab.pipeline.executors` (a local process pool or a Dask cluster, whose worker side is
:mod:`~reglab.pipeline.worker`), :mod:`~reglab.pipeline.lock` (one command per results folder),
:mod:`~reglab.pipeline.runner` (``python -m reglab run``) and :mod:`~reglab.pipeline.study`
(``python -m reglab study``). Nothing is imported here, so that the training notebook's imports
stay light.
"""
