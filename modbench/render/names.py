"""Display names in the paper's spelling."""

DATASET_NAMES = {
    "digits": "Digits",
    "cifar10": "CIFAR-10",
    "cifar100": "CIFAR-100",
    "fashion-mnist": "Fashion-MNIST",
}
BACKBONE_NAMES = {
    "small-cnn": "Small CNN",
    "googlenet": "GoogLeNet",
    "resnet18": "ResNet18",
    "resnet50": "ResNet50",
}
METRIC_TITLES = {
    "nmi": "NMI",
    "f1": "F1 (pairs)",  # pairwise clustering F1 (DML literature), not the paper's F1
    "recall@1": "Recall@1",
    "recall@2": "Recall@2",
    "recall@4": "Recall@4",
    "recall@8": "Recall@8",
    "macro_f1": "macro-F1",  # of leave-one-out 1-NN labels: the quantity the paper calls F1
    "map@r": "MAP@R",
    "p@1": "P@1",
    "accuracy": "Top-1 accuracy (classifier)",
}


def dataset_name(name: str) -> str:
    return DATASET_NAMES.get(name, name)


def backbone_name(name: str) -> str:
    return BACKBONE_NAMES.get(name, name)


def metric_title(name: str) -> str:
    if name in METRIC_TITLES:
        return METRIC_TITLES[name]
    if name.startswith("recall@"):
        return "Recall@" + name.split("@", 1)[1]
    return name


def metric_short(name: str) -> str:
    """A header that stays whole in a narrow terminal: ``R@1`` for ``recall@1``."""
    if name.startswith("recall@"):
        return "R@" + name.split("@", 1)[1]
    return metric_title(name)
