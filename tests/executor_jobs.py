"""TEST-ONLY job callables for tests/bench/test_executors.py, importable by name in the
executors' other processes (a pool worker, a submitit job): ``Square`` reports a run's engine
events and returns its argument squared; a negative argument raises, zero raises a UserError
that the job turns into its summary as ``worker.train_one`` does."""

from __future__ import annotations

from dataclasses import dataclass

from modbench.errors import ModbenchError, UserError


@dataclass(frozen=True)
class FakeRun:
    key: str
    label: str = "fake"
    seed: int = 0


class Square:
    def __call__(self, key: str, x: int, *, observer) -> dict:
        run = FakeRun(key)
        observer.run_start(run, start_epoch=0, epochs=2, steps_per_epoch=1)
        for epoch in (1, 2):
            observer.epoch_end(epoch=epoch, record={"train_loss": 0.0, "seconds": 0.0, "val": {}})
        observer.message(f"job {key}: squared {x}")
        try:
            if x < 0:
                raise ValueError(f"negative: {x}")
            if x == 0:
                raise UserError("zero is refused")
        except ModbenchError as exc:
            return {"key": key, "status": "error", "message": str(exc), "exit_code": exc.exit_code}
        return {"key": key, "status": "done", "value": x * x, "observer": type(observer).__name__}
