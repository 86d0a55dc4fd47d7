"""Property-based: random YAML documents fed to the suite loader either load into a valid suite
(whose runs resolve) or raise a UserError: one line, or for a SuiteError one line per problem,
each naming the file. Nothing else: no other exception type, no line broken inside."""

from __future__ import annotations

import copy

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modbench.errors import UserError
from modbench.suite.loader import SuiteError, load_suite
from modbench.suite.runs import resolve_runs
from modbench.suite.schema import Suite

from helpers import TINY_SUITE

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEYS = ["name", "description", "dataset", "backbone", "train", "eval", "seeds", "losses", "params",
        "label", "epochs", "lr", "beta", "gamma", "subset", "metrics", "embedding_dim", "pos_margin"]
NAMES = ["digits", "small-cnn", "improved", "cross-entropy", "triplet", "pml:ContrastiveLoss",
         "pml:Nope", "recall@1", "nmi", "adam", "m-per-class", "best-val"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.sampled_from(KEYS + NAMES), st.binary(max_size=8), st.dates(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=6), st.integers()), inner, max_size=4),
    ),
    max_leaves=12,
)


def check(path) -> None:
    """The property, on one file."""
    try:
        suite, source = load_suite(str(path))
    except SuiteError as exc:  # one line per problem, each naming the file
        lines = str(exc).split("\n")
        assert lines == [line for line in str(exc).splitlines() if line], repr(str(exc))
        assert all(line.startswith(f"{path}: ") for line in lines), repr(str(exc))
        return
    except UserError as exc:
        message = str(exc)
        assert message and len(message.splitlines()) == 1, repr(message)
        return
    assert isinstance(suite, Suite)
    runs = resolve_runs(suite, source)
    assert runs and all(len(r.key) == 20 for r in runs)


@SETTINGS
@given(text=st.text(max_size=400))
def test_random_text(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("fuzz") / "suite.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    check(path)


TOKENS = [":", ": ", "- ", "[", "]", "{", "}", ", ", "&a ", "*a", "!!python/name:os.system", "!!binary ",
          "!!set ", "!!str ", "!!float ", "? ", "|\n", ">\n", "'", '"', "#", "\n", "\n  ", "\n    ", "1",
          "-1", "1e400", ".nan", ".inf", "null", "~", "true", "2024-01-01", "---\n", "...\n", "%YAML 1.1\n",
          "<<: ", "\t", "\\", "é", "\u2028", *KEYS, *NAMES]


@SETTINGS
@given(tokens=st.lists(st.sampled_from(TOKENS), max_size=60))
def test_random_yaml_like_text(tmp_path_factory, tokens):
    path = tmp_path_factory.mktemp("fuzz") / "suite.yaml"
    path.write_text("".join(tokens), encoding="utf-8")
    check(path)


@SETTINGS
@given(document=values)
def test_random_yaml_documents(tmp_path_factory, document):
    path = tmp_path_factory.mktemp("fuzz") / "suite.yaml"
    path.write_text(yaml.dump(document, Dumper=yaml.SafeDumper, allow_unicode=True))
    check(path)


def paths_of(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths_of(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths_of(v, (*prefix, i))


VALID_PATHS = [p for p in paths_of(TINY_SUITE) if p]


@SETTINGS
@given(
    edits=st.lists(
        st.tuples(st.sampled_from(VALID_PATHS), st.one_of(st.just("delete"), values)), min_size=1, max_size=3
    )
)
def test_mutated_valid_suites(tmp_path_factory, edits):
    """Close to a valid suite, so that deep validation (loss parameters, sweeps) is reached."""
    data = copy.deepcopy(TINY_SUITE)
    for path, value in edits:
        node = data
        try:
            for key in path[:-1]:
                node = node[key]
            if value == "delete":
                del node[path[-1]]
            else:
                node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or replaced this path
    path = tmp_path_factory.mktemp("fuzz") / "suite.yaml"
    path.write_text(yaml.dump(data, Dumper=yaml.SafeDumper, allow_unicode=True))
    check(path)


PARAMS = {
    "improved": ["beta", "gamma"],
    "cross-entropy": ["label_smoothing"],
    "triplet": ["margin"],
    "pml:TripletMarginLoss": ["margin", "triplets_per_anchor", "swap"],  # typed and untyped keywords
    "pml:ContrastiveLoss": ["pos_margin", "neg_margin"],
}


ODD = st.one_of(st.binary(min_size=1, max_size=4), st.floats(), st.dates(), st.sets(st.integers(), max_size=2))


@pytest.mark.parametrize("name", sorted(PARAMS))
@settings(SETTINGS, max_examples=60)
@given(data=st.data())
def test_random_loss_parameters(tmp_path_factory, name, data):
    """Loss parameters (sweeps included) reach each loss's own parameter model."""
    keys = st.one_of(st.sampled_from(PARAMS[name]), st.text(max_size=5))
    params = data.draw(st.dictionaries(keys, st.one_of(ODD, values), max_size=3))
    suite = copy.deepcopy(TINY_SUITE)
    suite["losses"] = [{"name": name, "params": params}]
    path = tmp_path_factory.mktemp("fuzz") / "suite.yaml"
    path.write_text(yaml.dump(suite, Dumper=yaml.SafeDumper, allow_unicode=True))
    check(path)


def test_the_valid_suite_passes_the_property(tmp_path):
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(TINY_SUITE))
    suite, source = load_suite(str(path))
    assert len(resolve_runs(suite, source)) == 3


@settings(SETTINGS, max_examples=80)
@given(
    epochs=st.one_of(st.none(), st.integers(-(2**70), 2**70)),
    subset=st.one_of(st.none(), st.integers(-(2**70), 2**70)),
    seeds=st.one_of(st.none(), st.lists(st.integers(-(2**70), 2**70), max_size=3)),
)
def test_random_overrides(tmp_path_factory, epochs, subset, seeds):
    """Command-line overrides give a valid suite whose runs resolve, or a SuiteError naming the
    key and the override, one line per problem (never a late ValueError)."""
    from modbench.suite.runs import apply_overrides
    from modbench.suite.schema import MAX_EPOCHS, MAX_SEED

    path = tmp_path_factory.mktemp("fuzz") / "suite.yaml"
    path.write_text(yaml.safe_dump(TINY_SUITE))
    suite, source = load_suite(str(path))
    try:
        new = apply_overrides(suite, epochs=epochs, subset=subset, seeds=seeds)
    except SuiteError as exc:
        lines = str(exc).split("\n")
        assert all(line.startswith(f"{path}: ") and "(from the override " in line for line in lines), lines
        return
    assert 1 <= new.train.epochs <= MAX_EPOCHS and all(0 <= s <= MAX_SEED for s in new.seeds)
    assert resolve_runs(new, source)
