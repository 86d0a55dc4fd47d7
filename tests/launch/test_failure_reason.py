"""The one-line reason of a failed SLURM job, from submitit's error texts."""

from modbench.launch.slurm import failure_reason


def test_a_crashed_job_gives_its_exception_line():
    text = (
        "Job (task=0) failed during processing with trace:\n----------------------\n"
        "Traceback (most recent call last):\n  File \"x.py\", line 4, in f\n"
        "NotADirectoryError: [Errno 20] Not a directory: '/x'\n\n----------------------\n"
        "You can check full logs with 'job.stderr(0)' and 'job.stdout(0)'or at paths:\n  - /l/1_0_log.err\n"
    )
    assert failure_reason(RuntimeError(text)) == "NotADirectoryError: [Errno 20] Not a directory: '/x'"


def test_a_killed_job_says_so():
    text = (
        "Job 2116 (task: 0) with path /l/2116_0_result.pkl\nhas not produced any output (state: OUT_OF_MEMORY)\n"
        "No error stream produced. Look at stdout: /l/2116_0_log.out\n"
    )
    assert failure_reason(RuntimeError(text)) == (
        "the job ended without a result, probably killed (has not produced any output (state: OUT_OF_MEMORY))"
    )


def test_anything_else_gives_its_first_line():
    assert failure_reason(RuntimeError("\nsomething odd\nmore")) == "something odd"
    assert failure_reason(RuntimeError("")) == "RuntimeError"
