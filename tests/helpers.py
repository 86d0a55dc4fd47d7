"""Test data shared by several test folders (tests/ is on sys.path, see pyproject)."""

TINY_SUITE = {
    "name": "tiny",
    "description": "A tiny digits suite for tests.",
    "dataset": {"name": "digits", "subset": 12},
    "backbone": {"name": "small-cnn", "embedding_dim": 16},
    "train": {"epochs": 2, "batch_size": 32, "optimizer": "adam", "lr": 1.0e-3, "weight_decay": 4.0e-4},
    "seeds": [0],
    "losses": [
        {"name": "cross-entropy", "label": "CE"},
        {"name": "improved", "label": "New loss", "params": {"beta": 4, "gamma": 5}},
        {"name": "triplet", "label": "Triplet"},
    ],
}
