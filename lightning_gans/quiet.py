"""Third-party console lines that concern no run, filtered narrowly.

Each filter names the message and the module that emits it, so that every other warning, ours above all, still
shows: a user should read only what concerns their run. What is filtered, and why:

* Lightning's "Tip: For seamless cloud logging ... litlogger" and "... cloud uploads ... litmodels"
  advertisements (INFO records of its ``rank_zero`` logger), printed on every fit;
* the ``LeafSpec`` FutureWarning of torch's pytree, raised inside Lightning's ``_pytree`` helper on every fit and
  from ``copyreg`` inside the ONNX exporter: a deprecation between torch and Lightning, nothing a user can act on;
* under DDP, Lightning's advice to log ``val/*``/``test/*`` "with sync_dist=True": the keys our callbacks log
  with ``sync_dist=False`` hold values every process computed identically from gathered metric states, so a
  reduction would add nothing (a variant's own ``val/*`` keys are logged with ``sync_dist=True`` and never warn);

W&B's "The anonymous setting has no effect" warning is not filtered but avoided at its source (``lightning_cli``
drops the setting Lightning's ``WandbLogger`` passes), and W&B's own run lines (where the run is saved, how to
sync it) are kept: they concern the run.
"""

from __future__ import annotations

import logging
import warnings

LIGHTNING_LOGGERS = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero")
# the start of each INFO line dropped: litlogger's (every fit) and litmodels' (a fit without a ModelCheckpoint)
DROPPED_RECORDS = ("💡 Tip: For seamless cloud logging", "💡 Tip: For seamless cloud uploads")


class DropRecords(logging.Filter):
    """Drops the log records whose message starts with one of ``DROPPED_RECORDS``."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(DROPPED_RECORDS)


def quiet_third_party() -> None:
    """Install the filters (idempotent): the warnings filters of this process and a filter on Lightning's loggers."""
    warnings.filterwarnings(
        "ignore",
        message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
        category=FutureWarning,
        module=r"(lightning\.pytorch\.utilities\._pytree|copyreg)$",
    )
    warnings.filterwarnings(
        "ignore",
        message=r"It is recommended to use `self\.log\('(val|test)/",
        module=r"lightning\.pytorch\.trainer\.connectors\.logger_connector\.result$",
    )
    for name in LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, DropRecords) for f in logger.filters):
            logger.addFilter(DropRecords())
