"""The checks of the Trainer's arguments: ``check_trainer_arguments``, ``check_fit_arguments``.

Hand-written provided infrastructure (DESIGN.md, "Provided infrastructure"): no notebook exports it
and no learner writes it. Every argument is checked before anything changes; an error is a
``TypeError`` or ``ValueError`` that names the argument, what it got and what it expects.
"""
from tinytorch.utils.batch_checks import check_loader
from tinytorch.utils.checkpoint_retention import CheckpointManager
from tinytorch.utils.metric_inputs import metric_name
from tinytorch.utils.model_adapter import check_model
from tinytorch.utils.validation import check_bool, check_choice, check_int, check_number, describe

__all__ = ["check_trainer_arguments", "check_fit_arguments"]


def check_trainer_arguments(model, optimizer, loss_fn, scheduler, grad_clip_norm, metrics, nonfinite) -> tuple:
    """``(scheduler, grad_clip_norm, metrics, nonfinite)`` checked: ``metrics`` a list, ``grad_clip_norm``
    a float or None. A list or tuple in the scheduler's place is the older spec's
    ``Trainer(model, optimizer, loss_fn, metrics)``."""
    if isinstance(scheduler, (list, tuple)):
        if metrics is not None:
            raise TypeError("Trainer got metrics twice: as the fourth argument and as metrics=")
        scheduler, metrics = None, scheduler
    check_model(model)
    for method in ("step", "zero_grad"):
        if not callable(getattr(optimizer, method, None)):
            raise TypeError(f"Trainer optimizer must have a {method}() method, got {describe(optimizer)}")
    if not callable(loss_fn):
        raise TypeError(f"Trainer loss_fn must be callable as loss_fn(outputs, targets), got {describe(loss_fn)}")
    if scheduler is not None and not callable(getattr(scheduler, "get_lr", None)):
        raise TypeError(f"Trainer scheduler must have a get_lr(epoch) method, got {describe(scheduler)}")
    if grad_clip_norm is not None:
        grad_clip_norm = check_number("Trainer grad_clip_norm", grad_clip_norm, positive=True)
    nonfinite = check_choice("Trainer nonfinite", nonfinite, ("raise", "skip"))
    if metrics is None:
        metrics = []
    if not isinstance(metrics, (list, tuple)):
        raise TypeError(f"Trainer metrics must be a list of metrics, e.g. metrics=[Accuracy()], "
                        f"got {describe(metrics)}")
    names = []
    for index, metric in enumerate(metrics):
        if isinstance(metric, type):
            raise TypeError(f"Trainer metrics[{index}] is the class {metric.__name__}; pass an instance, "
                            f"e.g. {metric.__name__}()")
        if not callable(metric):
            raise TypeError(f"Trainer metrics[{index}] must be callable as metric(y_pred, y_true), "
                            f"got {describe(metric)}")
        names.append(metric_name(metric))
    if len(set(names)) != len(names):
        raise ValueError(f"Trainer metrics must have distinct names, got {names}")
    return scheduler, grad_clip_norm, list(metrics), nonfinite


def check_fit_arguments(history, train_dataloader, val_dataloader, epochs, verbose, accumulation_steps,
                        checkpoint_dir, checkpoint_every, early_stopping_patience, monitor, mode) -> dict:
    """The arguments of ``Trainer.fit`` checked against the trainer's ``history`` keys, as a dict;
    ``manager`` is the ``CheckpointManager`` to save with (None: no checkpoints)."""
    epochs = check_int("Trainer.fit epochs", epochs, 0)
    verbose = check_bool("Trainer.fit verbose", verbose)
    accumulation_steps = check_int("Trainer.fit accumulation_steps", accumulation_steps, 1)
    checkpoint_every = check_int("Trainer.fit checkpoint_every", checkpoint_every, 1)
    mode = check_choice("Trainer.fit mode", mode, ("min", "max"))
    if not isinstance(monitor, str):
        raise TypeError(f"Trainer.fit monitor must be a history key (a str), got {describe(monitor)}")
    check_loader(train_dataloader, "train_epoch")
    if val_dataloader is not None:
        check_loader(val_dataloader, "evaluate")
    if early_stopping_patience is not None:
        early_stopping_patience = check_int("Trainer.fit early_stopping_patience", early_stopping_patience, 1)
    if (early_stopping_patience is not None or checkpoint_dir is not None) and monitor not in history:
        raise ValueError(f"Trainer.fit monitor must be a history key, one of {sorted(history)}, "
                         f"got {describe(monitor)}")
    if early_stopping_patience is not None and val_dataloader is None and \
            (monitor == "eval_loss" or monitor.startswith("val_")):
        raise ValueError(f"Trainer.fit monitor={monitor!r} needs a val_dataloader")
    manager = None
    if isinstance(checkpoint_dir, CheckpointManager):
        manager = checkpoint_dir
        if manager.monitor not in history:
            raise ValueError(f"Trainer.fit: the CheckpointManager monitors {manager.monitor!r}, which is "
                             f"not a history key ({sorted(history)})")
    elif checkpoint_dir is not None:
        manager = CheckpointManager(checkpoint_dir, monitor=monitor, mode=mode)
    return {"epochs": epochs, "verbose": verbose, "accumulation_steps": accumulation_steps,
            "checkpoint_every": checkpoint_every, "patience": early_stopping_patience, "monitor": monitor,
            "mode": mode, "manager": manager}
