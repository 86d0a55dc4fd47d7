"""The engine's Runner for tuning trials: the validation split stands in for the test split."""

from __future__ import annotations

from modbench.engine.device_data import DeviceData, data_key, load_splits
from modbench.engine.runner import Runner
from modbench.tune.trials import is_trial, validation_as_test


class TrialRunner(Runner):
    """The engine's Runner; for trial runs, the data with validation in place of test."""

    def data_for(self, run):
        if not is_trial(run.config):
            return super().data_for(run)
        key = "trial:" + data_key(run.config)
        if key not in self._data:
            splits = load_splits(run.config["dataset"], data_dir=self.data_dir, download=self.download,
                                 seed=run.config["seed"], cache_root=self.store.root)
            self._data[key] = DeviceData(validation_as_test(splits), self.device)
        return self._data[key]
