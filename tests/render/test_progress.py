"""The progress display: the runs bar's estimate comes
from completed epochs, the bars are cleared at the end, suite text is never markup."""

from __future__ import annotations

import io
import re
from types import SimpleNamespace

from rich.console import Console

from modbench.render.progress import RichObserver, safe_label


def _run(key, loss, label, epochs=4):
    return SimpleNamespace(key=key, loss=loss, label=label, seed=0, config={"train": {"epochs": epochs}})


def _eta(observer):
    return next(t for t in observer.progress.tasks if t.id == observer.runs).fields["eta"]


def _console():
    return Console(file=io.StringIO(), force_terminal=True, width=100)


def test_estimate_counts_every_pending_run_by_its_loss():
    runs = [_run("a", "cross-entropy", "CE"), _run("b", "cross-entropy", "CE 2"), _run("c", "triplet", "T")]
    with RichObserver(runs=runs, console=_console()) as obs:
        assert _eta(obs) == ""
        obs.run_start(runs[0], start_epoch=0, epochs=4, steps_per_epoch=10)
        assert _eta(obs) == "estimating"
        obs.epoch_end(epoch=1, record={"seconds": 5.0, "val": {}})
        # CE: 3 epochs left here + 4 in run b at 5 s; triplet: softmax 5 s is not its family,
        # so the mean over every epoch (5 s) stands in: (3 + 4 + 4) * 5
        assert _eta(obs) == "~0:00:55 left"
        obs.batch_end(step=5, loss=1.0, images_per_s=100.0)  # half of epoch 2 done
        assert _eta(obs) == "~0:00:52 left"  # 52.5 s, rounded to even
        for e in (2, 3, 4):
            obs.epoch_end(epoch=e, record={"seconds": 5.0, "val": {}})
        obs.run_end(runs[0], status="done")
        obs.run_end(runs[1], status="cached")  # nothing to train: drops out of the estimate
        assert _eta(obs) == "~0:00:20 left"
        obs.run_start(runs[2], start_epoch=2, epochs=4, steps_per_epoch=10)  # resumed: 2 epochs left
        obs.epoch_end(epoch=3, record={"seconds": 30.0, "val": {}})
        assert _eta(obs) == "~0:00:30 left"  # triplet's own 30 s per epoch now
    assert obs.progress.live.transient  # bars cleared when training ends


def test_runs_bar_names_device_precision_and_threads():
    """The engine's run_numerics event reaches the runs bar."""
    run = _run("a", "cross-entropy", "CE", epochs=1)
    with RichObserver(runs=[run], console=_console()) as obs:
        obs.run_numerics(run, {"device": "cpu", "precision": "float32", "cpu_threads": 2})
        obs.run_start(run, start_epoch=0, epochs=1, steps_per_epoch=1)
        info = next(t for t in obs.progress.tasks if t.id == obs.runs).fields["info"]
    assert info == "CE, seed 0, cpu float32, 2 CPU thread(s)"


def test_hostile_labels_are_text_not_markup_or_escape_codes():
    console = _console()
    hostile = "[/][link=https://x.example]click[/link][blink]\x1b]0;owned\x07\x1b[2J"
    run = _run("a", "cross-entropy", hostile, epochs=1)
    with RichObserver(runs=[run], console=console) as obs:
        obs.run_start(run, start_epoch=0, epochs=1, steps_per_epoch=1)  # no MarkupError
        obs.progress.refresh()
        obs.run_end(run, status="done")
    text = console.file.getvalue()
    assert "\x1b]0;" not in text and "\x1b[2J" not in text and "owned" not in text
    assert "\x1b]8;" not in text  # no hyperlink was rendered
    assert "[/][link=https://x.example]click[/link][blink]" in text  # shown literally
    assert safe_label("a\x1b[31mb\nc") == "ab c"


def test_compare_ends_with_one_summary_line(cli, tiny_suite):
    result = cli("compare", "--suite", tiny_suite, "--loss", "CE")
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert any(re.fullmatch(r"1 run\(s\): 1 trained, 0:\d\d:\d\d in all", line) for line in lines)


def test_hostile_text_in_messages_reaches_stderr_without_escape_codes(cli, write_suite):
    """A label with terminal escape codes, through train's status lines and the one-line errors."""
    suite = write_suite(
        {"name": "evil", "dataset": {"name": "digits", "subset": 8}, "backbone": {"name": "small-cnn", "embedding_dim": 8},
         "train": {"epochs": 1, "batch_size": 32, "lr": 0.001}, "seeds": [0],
         "losses": [{"name": "cross-entropy", "label": "CE\x1b]0;owned\x07\x1b[2J[/]"}]}
    )
    result = cli("train", "--suite", suite)
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr  # no real escape or bell
    if result.exit_code == 2:  # the suite loader refuses control characters (shown escaped): fine
        assert "control character" in result.stderr
        return
    assert result.exit_code == 0, result.stderr
    assert "owned" not in result.stderr
    assert "CE[/]" in result.stderr
    missing = cli("eval", "--suite", suite, "--seed", "3")
    assert missing.exit_code == 1 and "\x1b" not in missing.stderr and "CE[/]" in missing.stderr


def test_jobs_bars_are_cleared_at_the_end_too():
    from modbench.render.jobs_progress import JobsProgress

    assert JobsProgress(Console(file=io.StringIO(), force_terminal=True)).progress.live.transient
    # a log keeps the final state
    assert not JobsProgress(Console(file=io.StringIO(), force_terminal=False)).progress.live.transient


def test_bars_stay_in_a_log():
    console = Console(file=io.StringIO(), force_terminal=False)
    assert not RichObserver(runs=[], console=console).progress.live.transient


def test_epoch_counter_whole_at_80_columns():
    """At 80 columns the bars' counters (epoch 12/30, batch 5/120) stay whole: the long
    information text is what gets cut, with an ellipsis."""
    run = _run("a", "cross-entropy", "Cross-entropy x e^5 (control)", epochs=30)
    for width in (80, 60):
        console = Console(file=io.StringIO(), force_terminal=True, width=width, color_system=None)
        with RichObserver(runs=[run, run], console=console) as obs:
            obs.run_numerics(run, {"device": "cpu", "precision": "float32", "cpu_threads": 2})
            obs.run_start(run, start_epoch=0, epochs=30, steps_per_epoch=120)
            obs.batch_end(step=5, loss=1.2345, images_per_s=12345.0)
            obs.epoch_end(epoch=12, record={"seconds": 5.0, "val": {"nmi": 0.5, "f1": 0.4, "recall@1": 0.6, "map@r": 0.3}})
            screen = Console(file=io.StringIO(), width=width, color_system=None)
            screen.print(obs.progress.get_renderable())
        lines = screen.file.getvalue().splitlines()
        assert len(lines) == 3 and max(len(line) for line in lines) <= width
        assert "0/2" in lines[0] and "12/30" in lines[1] and "5/120" in lines[2]
        assert "epochs" in lines[1] and "batches" in lines[2]


def test_console_events_answer_every_event_of_the_application_layer():
    """ConsoleEvents cannot subclass bench.events.Events (render sits above bench): it must
    still define each of its methods, with the same parameters."""
    import inspect

    from modbench.bench.events import Events
    from modbench.render.progress import ConsoleEvents

    for name, method in inspect.getmembers(Events, inspect.isfunction):
        if name.startswith("_"):
            continue
        assert name in ConsoleEvents.__dict__, name
        assert list(inspect.signature(getattr(ConsoleEvents, name)).parameters) == list(inspect.signature(method).parameters), name
