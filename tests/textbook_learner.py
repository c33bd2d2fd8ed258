"""A learner who writes plain textbook code: one body per solution block, written here, not copied.

Each body is what a careful learner writes from the chapter and the hint alone: correct on random
inputs, but plain (no in-place tricks the reference uses, different names, the obvious NumPy
calls). `build_package(root, folder, modules)` makes a copy of the reference package in which the
named modules' generated files are exported from `src/` with these bodies in place of the
reference's, the same way a learner's package is built, so the graded tests can run against it
(`tests/test_learner_e2e.py`, and `tools/check_graded.py` for every graded file at once).

Bodies are keyed by module folder and block owner; a list holds the bodies of an owner's blocks in
order. Indentation is relative: each line is indented to the block's own indentation.
"""
from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

BODIES: dict[str, dict[str, str | list[str]]] = {
    "01_tensor": {
        "Tensor.__init__": """
            if dtype is None and np.issubdtype(array.dtype, np.floating):
                array = array.astype(np.float32)
        """,
        "unbroadcast": """
            while grad.ndim > len(shape):
                grad = grad.sum(axis=0)
            for axis, size in enumerate(shape):
                if size == 1:
                    grad = grad.sum(axis=axis, keepdims=True)
        """,
        "add": """
            out = a.data + b.data

            def backward(g):
                return unbroadcast(g, a.shape), unbroadcast(g, b.shape)
        """,
        "mul": """
            out = a.data * b.data

            def backward(g):
                return unbroadcast(g * b.data, a.shape), unbroadcast(g * a.data, b.shape)
        """,
        "power": """
            out = a.data ** exponent

            def backward(g):
                return (exponent * a.data ** (exponent - 1) * g,)
        """,
        "reduce_sum": """
            out = np.sum(a.data, axis=axes, keepdims=keepdims)

            def backward(g):
                if not keepdims:
                    for axis in sorted(axes):
                        g = np.expand_dims(g, axis)
                return (g * np.ones_like(a.data),)
        """,
    },
    "02_activations": {
        "relu": """
            out = np.where(x.data > 0, x.data, 0)

            def backward(g):
                return (g * (x.data > 0),)
        """,
        "sigmoid": """
            out = np.empty_like(x.data)
            positive = x.data >= 0
            out[positive] = 1 / (1 + np.exp(-x.data[positive]))
            e = np.exp(x.data[~positive])
            out[~positive] = e / (1 + e)

            def backward(g):
                return (g * out * (1 - out),)
        """,
        "tanh": """
            out = np.tanh(x.data)

            def backward(g):
                return (g * (1 - out ** 2),)
        """,
        "gelu": """
            c = math.sqrt(2 / math.pi)
            inner = c * (x.data + 0.044715 * x.data ** 3)
            t = np.tanh(inner)
            out = 0.5 * x.data * (1 + t)

            def backward(g):
                d_inner = c * (1 + 3 * 0.044715 * x.data ** 2)
                return (g * (0.5 * (1 + t) + 0.5 * x.data * (1 - t ** 2) * d_inner),)
        """,
        "softmax": """
            shifted = x.data - np.max(x.data, axis=axis, keepdims=True)
            exps = np.exp(shifted)
            out = exps / np.sum(exps, axis=axis, keepdims=True)

            def backward(g):
                return (out * (g - np.sum(g * out, axis=axis, keepdims=True)),)
        """,
        "log_softmax": """
            shifted = x.data - np.max(x.data, axis=axis, keepdims=True)
            out = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))

            def backward(g):
                return (g - np.exp(out) * np.sum(g, axis=axis, keepdims=True),)
        """,
    },
    "03_layers": {
        "Module.named_children": """
            for name, value in self.__dict__.items():
                if isinstance(value, Module):
                    yield name, value
                if isinstance(value, list) or isinstance(value, tuple):
                    for index, item in enumerate(value):
                        if isinstance(item, Module):
                            yield name + "." + str(index), item
        """,
        "linear": """
            y = x @ weight.T
            if bias is None:
                return y
            return y + bias
        """,
        "Dropout.forward": """
            mask = (self.rng.random(x.shape) > self.p).astype(np.float32) / (1 - self.p)
            return x * mask
        """,
    },
    "04_losses": {
        "mse_loss": """
            error = pred.data - t
            out = (error ** 2).sum() / error.size

            def backward(g):
                return 2 * error / error.size * g, -2 * error / error.size * g
        """,
        "cross_entropy": """
            n = x.shape[0]
            m = x.max(axis=1, keepdims=True)
            log_z = m + np.log(np.exp(x - m).sum(axis=1, keepdims=True))
            log_probs = x - log_z
            loss = -np.sum(t * log_probs) / n

            def backward(g):
                probs = np.exp(log_probs)
                grad_logits = (probs * t.sum(axis=1, keepdims=True) - t) / n * g
                return grad_logits, -log_probs / n * g
        """,
        "binary_cross_entropy": """
            log_p = np.clip(np.log(p), -100, None)
            log_q = np.clip(np.log(1 - p), -100, None)
            loss = -np.mean(t * log_p + (1 - t) * log_q)

            def backward(g):
                denominator = np.maximum(p * (1 - p), 1e-12)
                return (p - t) / denominator / p.size * g, (log_q - log_p) / p.size * g
        """,
        "binary_cross_entropy_with_logits": """
            loss = np.mean(np.maximum(x, 0) - x * t + np.log(1 + np.exp(-np.abs(x))))

            def backward(g):
                s = np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))
                return (s - t) / x.size * g, -x / x.size * g
        """,
    },
    "06_autograd": {
        "no_grad.__enter__": """
            self.previous.append(is_grad_enabled())
            set_grad_enabled(False)
        """,
        "no_grad.__exit__": """
            set_grad_enabled(self.previous.pop())
        """,
        "topological_order": """
            topo = []
            seen = set()
            stack = [(root, iter(root.parents))]
            seen.add(id(root))
            while stack:
                node, parents = stack[-1]
                for parent in parents:
                    if parent.grad_fn is not None and id(parent) not in seen:
                        seen.add(id(parent))
                        stack.append((parent, iter(parent.parents)))
                        break
                else:
                    stack.pop()
                    topo.append(node)
            return list(reversed(topo))
        """,
        "backward": """
            grads = {root: grad}
            for node in order:
                g = grads.pop(node)
                for parent, parent_grad in zip(node.parents, node.grad_fn(g)):
                    if parent_grad is None or not parent.requires_grad:
                        continue
                    if parent.grad_fn is None:
                        if parent.grad is None:
                            parent.grad = np.array(parent_grad, dtype=parent.data.dtype)
                        else:
                            parent.grad = parent.grad + parent_grad
                    elif parent in grads:
                        grads[parent] = grads[parent] + parent_grad
                    else:
                        grads[parent] = parent_grad
        """,
    },
    "07_optimizers": {
        "Optimizer.zero_grad": """
            for p in self.params:
                if p.grad is not None:
                    p.grad[...] = 0
        """,
        "Optimizer.step": """
            for i, p in enumerate(self.params):
                if p.grad is None:
                    continue
                self.update(p.data, p.grad, self.state[i], lr)
        """,
        "SGD.update": """
            g = grad
            if self.weight_decay:
                g = g + self.weight_decay * param
            if self.momentum:
                if "momentum_buffer" not in state:
                    buf = g.copy()
                else:
                    buf = self.momentum * state["momentum_buffer"] + (1 - self.dampening) * g
                state["momentum_buffer"] = buf
                if self.nesterov:
                    g = g + self.momentum * buf
                else:
                    g = buf
            param -= lr * g
        """,
        "Adam.apply_weight_decay": """
            return grad + self.weight_decay * param
        """,
        "Adam.update": """
            b1, b2 = self.betas
            if "step" not in state:
                state["step"] = 0
                state["exp_avg"] = np.zeros_like(param)
                state["exp_avg_sq"] = np.zeros_like(param)
            state["step"] = state["step"] + 1
            grad = self.apply_weight_decay(param, grad, lr)
            state["exp_avg"] = b1 * state["exp_avg"] + (1 - b1) * grad
            state["exp_avg_sq"] = b2 * state["exp_avg_sq"] + (1 - b2) * grad ** 2
            m_hat = state["exp_avg"] / (1 - b1 ** state["step"])
            v_hat = state["exp_avg_sq"] / (1 - b2 ** state["step"])
            param -= lr * m_hat / (np.sqrt(v_hat) + self.eps)
        """,
        "AdamW.apply_weight_decay": """
            param -= lr * self.weight_decay * param
            return grad
        """,
    },
    "05_dataloader": {
        "Dataset": """
            def __len__(self):
                raise NotImplementedError("a Dataset subclass must define __len__")

            def __getitem__(self, index):
                raise NotImplementedError("a Dataset subclass must define __getitem__")
        """,
        "TensorDataset.__init__": """
            rows = arrays[0].shape[0]
            for array in arrays:
                if array.shape[0] != rows:
                    raise ValueError(f"all tensors need {rows} rows, got shape {array.shape}")
            self.arrays = list(arrays)
        """,
        "TensorDataset.__getitem__": """
            items = []
            for array in self.arrays:
                items.append(Tensor(array[index], dtype=array.dtype))
            return tuple(items)
        """,
        "DataLoader.__init__": """
            self.dataset, self.batch_size = dataset, batch_size
            self.shuffle, self.drop_last, self.seed = shuffle, drop_last, seed
            self.epoch, self.epoch_is_set = 0, False
            self.rng = np.random.default_rng(None)
        """,
        "DataLoader.__len__": """
            if self.drop_last:
                return len(self.dataset) // self.batch_size
            return (len(self.dataset) + self.batch_size - 1) // self.batch_size
        """,
        "DataLoader.set_epoch": """
            self.epoch_is_set = True
            self.epoch = epoch
        """,
        "DataLoader.order": """
            indices = np.arange(len(self.dataset))
            if self.shuffle:
                rng = self.rng if self.seed is None else np.random.default_rng([self.seed, epoch])
                indices = rng.permutation(indices)
            return indices
        """,
        "DataLoader.__iter__": """
            order = self.order()
            if not self.epoch_is_set:
                self.epoch = self.epoch + 1
            for b in range(len(self)):
                indices = order[b * self.batch_size:(b + 1) * self.batch_size]
                if isinstance(self.dataset, TensorDataset):
                    yield self.dataset[indices]
                else:
                    yield collate([self.dataset[int(i)] for i in indices], indices)
        """,
        "SimpleDataset.__init__": """
            rng = np.random.default_rng(seed)
            centres = rng.normal(0.0, 2.0, size=(num_classes, num_features)).astype(np.float32)
            labels = np.arange(size) % num_classes
            rng.shuffle(labels)
            noise = rng.standard_normal((size, num_features)).astype(np.float32)
            self.centres = centres
            self.num_features = num_features
            self.num_classes = num_classes
            self.seed = seed
            self.features = Tensor(centres[labels] + noise)
            self.labels = Tensor(labels.astype(np.int64))
            super().__init__(self.features, self.labels)
        """,
    },
    "08_training": {
        "CosineSchedule.get_lr": """
            return self.max_lr - (self.max_lr - self.min_lr) * (1 - math.cos(math.pi * progress)) / 2
        """,
        "clip_grad_norm": """
            squares = 0.0
            for g in grads:
                squares += float(np.sum(np.square(g, dtype=np.float64)))
            total_norm = math.sqrt(squares)
            if np.isfinite(total_norm) and total_norm > max_norm:
                for g in grads:
                    g *= max_norm / total_norm
        """,
        "Trainer.train_epoch": """
            self.training_mode = True
            self.optimizer.zero_grad()
            waiting = 0
            for inputs, targets in run.batches():
                outputs = self.model.forward(inputs)
                loss = self.loss_fn(outputs, targets)
                if run.skip_batch(outputs, loss):
                    continue
                run.window.add(len(inputs))
                loss.backward()
                run.record(outputs, targets, loss)
                waiting = waiting + 1
                if waiting % accumulation_steps == 0:
                    self.update(run)
            if run.window.batches:
                self.update(run)
        """,
        "Trainer.update": """
            run.window.average()
            if self.grad_clip_norm is None:
                norm = grad_norm(self.model.parameters())
            else:
                norm = clip_grad_norm(self.model.parameters(), self.grad_clip_norm)
            if not run.skip_update(norm):
                self.optimizer.step()
                self.step = self.step + 1
            self.optimizer.zero_grad()
        """,
        "Trainer.evaluate": """
            self.training_mode = False
            with no_grad():
                for inputs, targets in run.batches():
                    predictions = self.model.forward(inputs)
                    run.record(predictions, targets, self.loss_fn(predictions, targets))
        """,
        "Trainer.state_dict": """
            state = {}
            state["model"] = model_state(self.model, copy=copy)
            state["optimizer"] = self.optimizer.state_dict(copy=copy)
            state["scheduler"] = self.scheduler.state_dict() if self.scheduler is not None else None
            state["random_state"] = model_random_state(self.model)
            state["trainer"] = trainer_progress(self, copy=copy)
            return state
        """,
    },
    "09_convolutions": {
        "conv2d": """
            for y in range(oh):
                for z in range(ow):
                    patch = xpad[:, :, y * sh:y * sh + kh, z * sw:z * sw + kw]
                    cols[:, :, :, :, y, z] = patch.transpose(1, 2, 3, 0)
            w_matrix = weight.data.reshape(n_out, channels * kh * kw)
            out = w_matrix @ cols.reshape(channels * kh * kw, n * oh * ow)
        """,
        "max_pool2d": """
            windows = [x.data[:, :, rows, cols] for rows, cols in views]
            out = np.max(np.stack(windows), axis=0)
        """,
        "avg_pool2d": """
            windows = [x.data[:, :, rows, cols] for rows, cols in views]
            out = np.mean(np.stack(windows), axis=0)
        """,
    },
}


def _bodies_for(module: str) -> dict[str, list[str]]:
    out = {}
    for owner, body in BODIES.get(module, {}).items():
        out[owner] = [body] if isinstance(body, str) else list(body)
    return out


def substituted_cells(source: Path, module: str):
    """The cells of `source` with each block's body replaced by the textbook body for its owner
    (blocks without one keep the reference body)."""
    from tito import cells as nb

    cells = nb.read_source(source)
    bodies = _bodies_for(module)
    used: dict[str, int] = {}
    per_cell: dict[int, list] = {}
    for block in nb.solution_blocks(cells, module[:2]):
        per_cell.setdefault(block.cell, []).append(block)
    for index, blocks in per_cell.items():
        lines = cells[index].source.splitlines()
        for block in reversed(blocks):
            options = bodies.get(block.owner)
            if not options:
                continue
            position = sum(1 for b in blocks if b.owner == block.owner and b.begin < block.begin)
            text = textwrap.dedent(options[min(position, len(options) - 1)]).strip("\n")
            new = [(block.indent + line) if line.strip() else "" for line in text.splitlines()]
            lines[block.begin + 1:block.end] = new
            used[block.owner] = used.get(block.owner, 0) + 1
        cells[index].source = "\n".join(lines)
    missing = sorted(set(bodies) - set(used))
    if missing:
        raise KeyError(f"{module}: no solution block owned by {missing}")
    return cells


def build_package(root: Path, folder: Path, modules: list[str]) -> Path:
    """`folder/tinytorch`: a copy of the reference package with `modules` re-exported from their
    sources with the textbook bodies. Returns `folder` (put it first on sys.path)."""
    from tito import cells as nb

    target = Path(folder) / "tinytorch"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(Path(root) / "tinytorch", target, ignore=shutil.ignore_patterns("__pycache__"))
    for module in modules:
        source = Path(root) / "src" / module / f"{module}.py"
        code = nb.export_code(substituted_cells(source, module), f"textbook {module}")
        for dotted, text in code.items():
            path = Path(folder) / nb.target_path(dotted)
            path.write_text(f"# textbook learner's {module}\n\n" + text, encoding="utf-8")
    return Path(folder)
