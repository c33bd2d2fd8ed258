"""Where a data loader stands, saved and put back: ``loader_state``, ``restore_loader_state``,
``check_loader_states``.

Hand-written provided infrastructure (DESIGN.md, "Provided infrastructure"): no notebook exports it
and no learner writes it. A loader with ``state_dict()`` / ``load_state_dict()`` (the DataLoader of
module 05: its seed and epoch) is saved after each pass and in checkpoints, so a resumed run
shuffles as the uninterrupted one would; a pass that fails puts its loader back. Other iterables
(a list of batches) have no state, and None stands for it.
"""
from copy import deepcopy

from tinytorch.utils.validation import check_bool, check_int, describe

__all__ = ["loader_state", "restore_loader_state", "check_loader_states"]


def loader_state(dataloader):
    """``dataloader.state_dict()`` when it has one, else None."""
    getter = getattr(dataloader, "state_dict", None)
    return getter() if callable(getter) else None


def restore_loader_state(dataloader, state) -> None:
    """Put back a state ``loader_state`` gave (None, or a loader without ``load_state_dict``: nothing)."""
    if state is not None and callable(getattr(dataloader, "load_state_dict", None)):
        dataloader.load_state_dict(state)


def check_loader_states(states) -> dict:
    """A copy of the loaders' saved states, ``{"train"/"eval": dict of plain values}``, after checking
    that a seed is None or an int >= 0 and an epoch an int >= 0 (what DataLoader.load_state_dict
    will accept)."""
    if not isinstance(states, dict) or not set(states) <= {"train", "eval"}:
        raise ValueError(f"trainer loader_states must be a dict with keys among ['eval', 'train'], got {describe(states)}")
    for role, state in states.items():
        if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
            raise ValueError(f"trainer loader_states[{role!r}] must be a dict, got {describe(state)}")
        if "seed" in state and state["seed"] is not None:
            check_int(f"trainer loader_states[{role!r}]['seed']", state["seed"], 0)
        if "epoch" in state:
            check_int(f"trainer loader_states[{role!r}]['epoch']", state["epoch"], 0)
        if "epoch_is_set" in state:
            check_bool(f"trainer loader_states[{role!r}]['epoch_is_set']", state["epoch_is_set"])
    return deepcopy(states)
