"""A made-up assignment and its class for the similarity tests and benchmark.

The release has four answer cells (``sigmoid``, ``numerical_gradient``, ``train``, ``accuracy``),
a read-only set-up cell and a test cell. ``HONEST`` holds five students' answers written
independently (each correct, each in their own way, as students write them); everybody writes
the sigmoid as the same one-liner. :func:`disguise` is what a student does to hide a copy.
"""

from __future__ import annotations

import random
import re

import nbformat

SETUP = "import numpy as np\nrng = np.random.default_rng(0)\n"
TEST = ("# Checks sigmoid and accuracy on small inputs.\n"
        "assert abs(sigmoid(0.0) - 0.5) < 1e-12, 'sigmoid(0) must be 1/2'\n"
        "w, b = np.zeros(2), 0.0\n"
        "assert accuracy(w, b, np.ones((4, 2)), np.array([1, 1, 0, 0])) == 0.5\n")
QUESTIONS = ("sigmoid", "numerical_gradient", "train", "accuracy")
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
WRITTEN_QUESTION = ("**Written (2 points).** Why does gradient descent diverge when the learning "
                    "rate is too large? Answer in a few sentences.")
WRITTEN = {
    "ana": "Each step moves the weights by lr times the gradient. If lr is larger than about "
           "2 divided by the largest curvature of the loss, the step overshoots the minimum by "
           "more than it started from, so the distance to the minimum grows every step and "
           "the loss blows up.",
    "ben": "With a big learning rate we jump over the valley. Near the minimum the loss looks "
           "like a parabola; a step that is too long lands higher up on the other side, the "
           "gradient there is even steeper, and the next jump is longer again. This feedback "
           "makes the iterates oscillate with growing amplitude.",
    "chen": "For a quadratic loss the update multiplies the error by (1 - lr * h), where h is "
            "the second derivative. Whenever |1 - lr * h| > 1, i.e. lr > 2 / h, the error is "
            "amplified instead of shrunk, so it diverges exponentially; in several dimensions "
            "the largest eigenvalue of the Hessian decides.",
    "dora": "Gradient descent assumes the gradient stays roughly constant over one step. A too "
            "large learning rate breaks that assumption: the linear approximation is no longer "
            "valid over the step, the new point can have a larger loss than the old one, and "
            "repeating this makes the parameters run off to infinity (we saw nan in the plot).",
    "emil": "Too large a learning rate means the update overshoots. I tried lr = 0.5 and 5 on "
            "the example: with 5 the loss went 3, 40, 900, ... Each overshoot gives a larger "
            "gradient and hence an even larger step, so it never settles down and diverges.",
}
SIGMOID = "def sigmoid(z):\n    return 1 / (1 + np.exp(-z))\n"

HONEST = {
    "ana": {
        "numerical_gradient": '''
def numerical_gradient(f, x, eps=1e-6):
    grad = np.zeros_like(x, dtype=float)
    for i in range(x.size):
        step = np.zeros_like(x, dtype=float)
        step.flat[i] = eps
        grad.flat[i] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad
''',
        "train": '''
def train(X, y, epochs=100, lr=0.1, batch=32, seed=0):
    rng = np.random.default_rng(seed)
    n, d = X.shape
    w = np.zeros(d)
    b = 0.0
    losses = []
    for epoch in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            p = sigmoid(X[idx] @ w + b)
            err = p - y[idx]
            w -= lr * X[idx].T @ err / len(idx)
            b -= lr * err.mean()
        p = np.clip(sigmoid(X @ w + b), 1e-12, 1 - 1e-12)
        losses.append(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    return w, b, losses
''',
        "accuracy": '''
def accuracy(w, b, X, y):
    return np.mean((sigmoid(X @ w + b) > 0.5) == y)
''',
    },
    "ben": {
        "numerical_gradient": '''
def numerical_gradient(f, x, eps=1e-6):
    x = np.array(x, dtype=float)
    out = np.empty(x.shape)
    it = np.nditer(x, flags=["multi_index"])
    while not it.finished:
        k = it.multi_index
        old = x[k]
        x[k] = old + eps
        up = f(x)
        x[k] = old - eps
        down = f(x)
        x[k] = old
        out[k] = (up - down) / (2.0 * eps)
        it.iternext()
    return out
''',
        "train": '''
def train(X, y, epochs=100, lr=0.1, batch=32, seed=0):
    gen = np.random.default_rng(seed)
    weights, bias = np.zeros(X.shape[1]), 0.0
    history = []
    for _ in range(epochs):
        shuffled = gen.permutation(len(X))
        batches = np.array_split(shuffled, max(1, len(X) // batch))
        for rows in batches:
            xb, yb = X[rows], y[rows]
            probs = 1.0 / (1.0 + np.exp(-(xb.dot(weights) + bias)))
            grad_w = xb.T.dot(probs - yb) / xb.shape[0]
            grad_b = np.sum(probs - yb) / xb.shape[0]
            weights = weights - lr * grad_w
            bias = bias - lr * grad_b
        z = X.dot(weights) + bias
        history.append(float(np.mean(np.logaddexp(0, -z) * y + np.logaddexp(0, z) * (1 - y))))
    return weights, bias, history
''',
        "accuracy": '''
def accuracy(w, b, X, y):
    predictions = (X @ w + b >= 0).astype(int)
    correct = np.sum(predictions == y)
    return correct / len(y)
''',
    },
    "chen": {
        "numerical_gradient": '''
def numerical_gradient(f, x, eps=1e-6):
    flat = x.astype(float).ravel()
    g = []
    for j in range(len(flat)):
        e = np.zeros(len(flat))
        e[j] = eps
        plus = f((flat + e).reshape(x.shape))
        minus = f((flat - e).reshape(x.shape))
        g.append((plus - minus) / (2 * eps))
    return np.array(g).reshape(x.shape)
''',
        "train": '''
def loss(w, b, X, y):
    s = sigmoid(X @ w + b)
    s = np.clip(s, 1e-10, 1 - 1e-10)
    return -(y * np.log(s) + (1 - y) * np.log(1 - s)).mean()


def train(X, y, epochs=100, lr=0.1, batch=32, seed=0):
    r = np.random.default_rng(seed)
    w = np.zeros(X.shape[1])
    b = 0.0
    curve = []
    for e in range(epochs):
        perm = r.permutation(X.shape[0])
        Xs, ys = X[perm], y[perm]
        i = 0
        while i < len(Xs):
            xb = Xs[i:i + batch]
            yb = ys[i:i + batch]
            d = sigmoid(xb @ w + b) - yb
            w = w - lr * (d @ xb) / len(yb)
            b = b - lr * d.sum() / len(yb)
            i += batch
        curve.append(loss(w, b, X, y))
    return w, b, curve
''',
        "accuracy": '''
def accuracy(w, b, X, y):
    hits = 0
    for xi, yi in zip(X, y):
        label = 1 if sigmoid(xi @ w + b) > 0.5 else 0
        hits += int(label == yi)
    return hits / len(X)
''',
    },
    "dora": {
        "numerical_gradient": '''
def numerical_gradient(f, x, eps=1e-6):
    base = np.asarray(x, dtype=np.float64)
    eye = np.eye(base.size).reshape((base.size,) + base.shape) * eps
    diffs = [f(base + h) - f(base - h) for h in eye]
    return np.reshape(diffs, base.shape) / (2 * eps)
''',
        "train": '''
def train(X, y, epochs=100, lr=0.1, batch=32, seed=0):
    """Mini-batch gradient descent on the mean cross-entropy."""
    rng_local = np.random.default_rng(seed)
    theta = np.zeros(X.shape[1] + 1)
    Xa = np.hstack([X, np.ones((len(X), 1))])
    losses = []
    for epoch in range(epochs):
        for chunk in np.array_split(rng_local.permutation(len(Xa)), int(np.ceil(len(Xa) / batch))):
            p = sigmoid(Xa[chunk] @ theta)
            theta -= lr * Xa[chunk].T @ (p - y[chunk]) / len(chunk)
        q = sigmoid(Xa @ theta)
        eps = 1e-12
        losses.append(float(-np.mean(y * np.log(q + eps) + (1 - y) * np.log(1 - q + eps))))
    return theta[:-1], theta[-1], losses
''',
        "accuracy": '''
def accuracy(w, b, X, y):
    guess = np.where(sigmoid(X.dot(w) + b) >= 0.5, 1, 0)
    return float((guess == np.asarray(y)).mean())
''',
    },
    "emil": {
        "numerical_gradient": '''
def numerical_gradient(f, x, eps=1e-6):
    result = np.zeros(np.shape(x))
    for index in np.ndindex(*np.shape(x)):
        shift = np.zeros(np.shape(x))
        shift[index] = eps
        f_plus, f_minus = f(x + shift), f(x - shift)
        result[index] = 0.5 * (f_plus - f_minus) / eps
    return result
''',
        "train": '''
def bce(p, t):
    p = np.minimum(np.maximum(p, 1e-9), 1 - 1e-9)
    return float(np.mean(-t * np.log(p) - (1 - t) * np.log(1 - p)))


def train(X, y, epochs=100, lr=0.1, batch=32, seed=0):
    state = np.random.default_rng(seed)
    n_samples, n_features = X.shape
    coef = np.zeros(n_features)
    intercept = 0.0
    trace = []
    epoch = 0
    while epoch < epochs:
        order = np.arange(n_samples)
        state.shuffle(order)
        for lo in range(0, n_samples, batch):
            sel = order[lo:min(lo + batch, n_samples)]
            out = sigmoid(np.dot(X[sel], coef) + intercept)
            delta = out - y[sel]
            coef -= lr * np.dot(delta, X[sel]) / sel.size
            intercept -= lr * np.mean(delta)
        trace.append(bce(sigmoid(np.dot(X, coef) + intercept), y))
        epoch += 1
    return coef, intercept, trace
''',
        "accuracy": '''
def accuracy(w, b, X, y):
    score = sigmoid(np.dot(X, w) + b)
    return np.count_nonzero((score > 0.5) == (y == 1)) / y.shape[0]
''',
    },
}


def release() -> nbformat.NotebookNode:
    """The made-up assignment's release, with nbgrader's metadata."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(SETUP, metadata={"nbgrader": {
        "grade": False, "solution": False, "locked": True, "grade_id": "setup",
        "schema_version": 3}}))
    for q in QUESTIONS:
        nb.cells.append(nbformat.v4.new_markdown_cell(f"Write `{q}`.", metadata={"nbgrader": {
            "grade": False, "solution": False, "locked": True, "grade_id": f"{q}_text",
            "schema_version": 3}}))
        stub = STUB.replace("\n", "\n    ")
        nb.cells.append(nbformat.v4.new_code_cell(f"def {q}(*args):\n    {stub}\n",
                                                  metadata={"nbgrader": {
                                                      "grade": False, "solution": True,
                                                      "locked": False, "grade_id": q,
                                                      "schema_version": 3}}))
    nb.cells.append(nbformat.v4.new_markdown_cell(WRITTEN_QUESTION, metadata={"nbgrader": {
        "grade": False, "solution": False, "locked": True, "grade_id": "written_lr_text",
        "schema_version": 3}}))
    nb.cells.append(nbformat.v4.new_markdown_cell("YOUR ANSWER HERE", metadata={"nbgrader": {
        "grade": True, "solution": True, "locked": False, "grade_id": "written_lr", "points": 2,
        "schema_version": 3}}))
    nb.cells.append(nbformat.v4.new_code_cell(TEST, metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": True, "grade_id": "test_all", "points": 2,
        "schema_version": 3}}))
    return nb


def submission(answers: dict[str, str], extra: list[str] = ()) -> nbformat.NotebookNode:
    """The release with ``answers`` (grade_id -> code) filled in and ``extra`` code cells added
    at the end (cells of the student's own)."""
    nb = release()
    for cell in nb.cells:
        gid = cell.metadata["nbgrader"]["grade_id"]
        if gid in answers:
            cell.source = answers[gid].strip("\n") + "\n"
    for code in extra:
        nb.cells.append(nbformat.v4.new_code_cell(code))
    return nb


def honest(name: str) -> dict[str, str]:
    return {"sigmoid": SIGMOID, **HONEST[name], "written_lr": WRITTEN[name]}


def reword(text: str) -> str:
    """A copied written answer, lightly edited: a few words swapped, other line breaks."""
    swaps = {"the loss": "the cost", "step": "update", "large": "big", "so ": "hence ",
             "gradient": "slope", "minimum": "optimum", "every": "each"}
    for old, new in swaps.items():
        text = text.replace(old, new, 1)
    return text.replace(". ", ".\n\n")


def disguise(answers: dict[str, str], seed: int = 1) -> tuple[dict[str, str], list[str]]:
    """A copy dressed up: every local name renamed, the functions of a cell in another order,
    comments added and blank lines changed, dead code added; some code moved into a cell of
    the student's own. Returns (answers, extra cells)."""
    rnd = random.Random(seed)
    renames = {"grad": "derivative", "step": "h_vec", "order": "idx_perm", "losses": "loss_log",
               "weights": "w_vec", "bias": "b0", "history": "hist", "shuffled": "perm",
               "rows": "sel", "probs": "yhat", "curve": "log", "perm": "shuffle_idx", "e": "ep",
               "r": "gen", "d": "resid", "n": "count", "w": "wts", "b": "offset", "p": "prob",
               "err": "residual", "idx": "chosen", "xb": "x_batch", "yb": "y_batch",
               "epoch": "it", "start": "s0", "x": "point", "i": "pos", "k": "key", "f": "func",
               "hits": "n_right", "label": "pred", "xi": "row", "yi": "target", "s": "act",
               "g": "parts", "j": "col", "flat": "vec", "plus": "hi", "minus": "lo", "Xs": "Xp",
               "ys": "yp", "loss": "cross_entropy"}
    out = {}
    for q, code in answers.items():
        if q.startswith("written"):
            out[q] = reword(code)
            continue
        for old, new in renames.items():
            code = re.sub(rf"\b{old}\b", new, code)
        # comments, and blank lines doubled or removed
        lines = []
        for line in code.strip("\n").splitlines():
            if not line.strip():
                lines += [] if rnd.random() < 0.5 else ["", ""]  # dropped or doubled
                continue
            if rnd.random() < 0.3:
                lines.append(" " * (len(line) - len(line.lstrip())) + "# my own working here")
            lines.append(line)
        code = "\n".join(lines)
        # functions of one cell in another order
        blocks = re.split(r"\n(?=def )", code)
        code = "\n\n\n".join(reversed(blocks))
        if q == "train":  # dead code
            code += ("\n\n\ndef _unused_helper(values):\n    total = 0\n    for v in values:\n"
                     "        total += v * 2\n    return total\n\nif False:\n    print('debug')\n")
        out[q] = code
    # the student moves one answer into a cell of their own and leaves the stub in place
    moved = out.pop("accuracy")
    return out, [moved]


_EXPLORE = [
    "print(X[:{a}].mean(axis=0), y[:{a}].sum())",
    "grid = np.linspace(-{a}, {b}, {c})",
    "counts = np.bincount(y.astype(int), minlength={c})",
    ("for lr_try in [0.{a}, 0.{b}, {c}.0]:\n"
     "    w_t, b_t, l_t = train(X, y, epochs={a}, lr=lr_try)\n"
     "    print(lr_try, l_t[-1])"),
    "scale = X.std(axis=0) + 1e-{c}",
    "Xn = (X - X.mean(axis=0)) / scale",
    "print(numerical_gradient(lambda v: np.sum(v ** {c}), np.ones({a})))",
    "subset = rng.choice(len(X), size={a}{b}, replace=False)",
    "acc_{a} = accuracy(*train(X[subset], y[subset], epochs={b})[:2], X, y)",
    "z_vals = sigmoid(np.arange(-{a}, {b}))\nprint(np.round(z_vals, {c}))",
    "assert np.all(np.isfinite(train(X, y, epochs={c})[2]))",
    "best = max(range({a}, {a}{b}), key=lambda e: accuracy(*train(X, y, epochs=e)[:2], X, y))",
]


def generated_class(n: int, seed: int = 0) -> dict[str, tuple[dict[str, str], list[str]]]:
    """``n`` students: each answers every question with one of the honest answers (so every
    answer is shared by about a fifth of the class), renames a few names, and explores the data
    in a cell of their own (random statements, their own numbers). student -> (answers, extra)."""
    rnd = random.Random(seed)
    names = sorted(HONEST)
    out = {}
    for i in range(n):
        answers = {"sigmoid": SIGMOID}
        answers["written_lr"] = WRITTEN[rnd.choice(names)]
        for q in QUESTIONS[1:]:
            code = HONEST[rnd.choice(names)][q]
            for old in rnd.sample(["x", "w", "b", "eps", "epoch", "lr"], 2):
                code = re.sub(rf"\b{old}\b", f"{old}_{rnd.randint(1, 9)}", code)
            answers[q] = code
        statements = [rnd.choice(_EXPLORE).format(a=rnd.randint(10, 9999),
                                                  b=rnd.randint(10, 9999), c=rnd.randint(2, 9))
                      for _ in range(rnd.randint(6, 10))]
        out[f"s{i:03d}"] = (answers, ["\n".join(statements)])
    return out
