"""The older seed's "Real-World Training Workflows" example runs as printed.

The block is copied verbatim below (its import from `tinytorch.core.dataloader`, the relative path
"data/cifar10/", `download=True`, metrics passed fourth to the Trainer, 100 epochs). What it leaves
out is supplied before it, and only that: the CIFAR-10 files (a few records in the official binary
format, written by the test under the working directory), the names it uses without importing
them, and the `val_dataset` it refers to. The network is forbidden: the files are present, so
`download=True` must not download anything.
"""
from __future__ import annotations

import urllib.request

import numpy as np

import tinytorch.utils.datafiles as datafiles
from internals.test_datafiles import write_cifar


def test_real_world_training_workflow_runs_as_printed(tmp_path, monkeypatch, capsys):
    write_cifar(tmp_path / "data" / "cifar10" / "cifar-10-batches-bin", np.random.default_rng(0),
                per_file=1)
    monkeypatch.chdir(tmp_path)

    def refuse(*args, **kwargs):
        raise AssertionError(f"a network call was attempted: {args}")
    monkeypatch.setattr(datafiles, "download_url", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)

    # Supplied: the names the block uses without importing them, and its missing validation set.
    from tinytorch import Accuracy, Adam, CrossEntropyLoss, Dense, Flatten, ReLU, Sequential, Trainer
    from tinytorch.core.dataloader import CIFAR10Dataset
    from tinytorch.core.spatial import Conv2D, MaxPool2D
    val_dataset = CIFAR10Dataset("data/cifar10/", train=False, download=True)

    # ---- verbatim from the seed ------------------------------------------------------------
    # Train on CIFAR-10 with full pipeline
    from tinytorch.core.dataloader import CIFAR10Dataset, DataLoader

    # Load and prepare data
    train_dataset = CIFAR10Dataset("data/cifar10/", train=True, download=True)
    train_loader = DataLoader(train_dataset, batch_size=32, shuffle=True)
    val_loader = DataLoader(val_dataset, batch_size=32, shuffle=False)

    # Configure CNN for computer vision
    cnn_model = Sequential([
        Conv2D(3, 16, kernel_size=3), ReLU(),
        MaxPool2D(kernel_size=2),
        Conv2D(16, 32, kernel_size=3), ReLU(),
        Flatten(),
        Dense(32 * 13 * 13, 128), ReLU(),
        Dense(128, 10)
    ])

    # Train with monitoring and validation
    trainer = Trainer(cnn_model, Adam(cnn_model.parameters()), CrossEntropyLoss(), [Accuracy()])
    history = trainer.fit(train_loader, val_loader, epochs=100)

    # Analyze training results
    print(f"Final train accuracy: {history['train_accuracy'][-1]:.4f}")
    print(f"Final val accuracy: {history['val_accuracy'][-1]:.4f}")
    # ---- end of the seed's block -------------------------------------------------------------

    assert len(train_dataset) == 5 and len(val_dataset) == 1
    assert train_dataset.images.shape == (5, 3, 32, 32)
    assert len(history["train_accuracy"]) == 100 and len(history["val_accuracy"]) == 100
    assert trainer.step == 100                      # one batch of 5 per epoch
    # 100 Adam steps on 5 images: the network memorises them, so the loss must fall a lot.
    assert history["train_loss"][-1] < 0.1 * history["train_loss"][0], history["train_loss"][::20]
    assert history["train_accuracy"][-1] == 1.0
    out = capsys.readouterr().out
    assert f"Final train accuracy: {history['train_accuracy'][-1]:.4f}" in out
    assert f"Final val accuracy: {history['val_accuracy'][-1]:.4f}" in out
