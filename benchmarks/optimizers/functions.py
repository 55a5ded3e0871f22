"""The test functions: shifted, boxed, mixed-type minimization problems with a known optimum.

A :class:`Problem` is one function at one dimension. Its parameters come in four
kinds, named as gf names them (the suffix picks the type):

* ``x0001``        a float in ``[float_low, float_high]`` (per parameter);
* ``k0002_int``    an integer in ``[int_low, int_high]``;
* ``b0003_bool``   a boolean;
* ``c0004_choice`` one of ``options`` labels ``o0, o1, ...`` (gf stores a list whose head counts).

A point is a :class:`Point` of four numpy arrays (floats, ints, bools, choice
indices). Every instance is deterministic: its shift, rotation and targets come
from a random generator seeded by the function's name and dimension, never by the
optimizer's seed, so every optimizer and seed faces the same problem.

Every optimum is placed away from both 0 and the centre of the box (each shifted
coordinate sits 15-40 % of the box width from the centre), and ``f_opt`` is its
exact value, so regret is measurable. The noisy function adds Gaussian noise to
what the optimizer sees; its regret is computed on the noiseless value.
"""

import math
import zlib
from dataclasses import dataclass, field

import numpy as np

#: How many options every ``_choice`` parameter has.
CHOICE_OPTIONS = 4


@dataclass
class Point:
    """One candidate: floats, ints, bools (as 0/1 ints) and choice indices, in parameter order per kind."""

    floats: np.ndarray
    ints: np.ndarray
    bools: np.ndarray
    choices: np.ndarray


@dataclass
class Problem:
    """One test function at one dimension: its box, its parameter kinds and its known optimum.

    :ivar name: the function's name (``sphere``...).
    :ivar dim: the total number of parameters.
    :ivar counts: ``{"float": n, "int": n, "bool": n, "choice": n}``.
    :ivar float_low, float_high, int_low, int_high: per-parameter bounds (inclusive).
    :ivar f_opt: the optimum value (for regret).
    :ivar noise: the standard deviation of the additive noise (0: noiseless).
    :ivar tags: short descriptors (separable, multimodal...) for the report.
    :ivar optimum: a point where ``f_opt`` is reached (for checking the suite; no optimizer sees it).
    """

    name: str
    dim: int
    counts: dict
    float_low: np.ndarray
    float_high: np.ndarray
    int_low: np.ndarray
    int_high: np.ndarray
    f_opt: float
    value: object = field(repr=False)
    noise: float = 0.0
    tags: str = ""
    options: int = CHOICE_OPTIONS
    optimum: Point = field(default=None, repr=False)

    @property
    def numeric(self):
        """Whether every parameter is a float or an integer (CMA-ES runs only then)."""
        return self.counts["bool"] == 0 and self.counts["choice"] == 0

    def names(self):
        """gf parameter names of every kind, in the order of the :class:`Point` arrays."""
        kinds = [("float", "x{:04d}"), ("int", "k{:04d}_int"), ("bool", "b{:04d}_bool"),
                 ("choice", "c{:04d}_choice")]
        names, index = {}, 0
        for kind, pattern in kinds:
            names[kind] = [pattern.format(index + i) for i in range(self.counts[kind])]
            index += self.counts[kind]
        return names

    def centre(self):
        """The centre of the box (ints rounded, bools false, choices their first option)."""
        return Point(
            floats=(self.float_low + self.float_high) / 2.0,
            ints=np.floor((self.int_low + self.int_high) / 2.0).astype(np.int64),
            bools=np.zeros(self.counts["bool"], dtype=np.int64),
            choices=np.zeros(self.counts["choice"], dtype=np.int64),
        )

    def random_point(self, rng):
        """A point drawn uniformly from the box (what random search proposes)."""
        return Point(
            floats=rng.uniform(self.float_low, self.float_high),
            ints=rng.integers(self.int_low, self.int_high + 1),
            bools=rng.integers(0, 2, size=self.counts["bool"]),
            choices=rng.integers(0, self.options, size=self.counts["choice"]),
        )

    def evaluate(self, point, noise_rng=None):
        """``(observed, true)``: the value the optimizer sees (noisy for the noisy function) and the true one."""
        true = float(self.value(point))
        observed = true
        if self.noise and noise_rng is not None:
            observed = true + float(noise_rng.normal(0.0, self.noise))
        return observed, true


# -- building blocks ----------------------------------------------------------------------


def _rng(name, dim, salt=""):
    """The instance's own random generator: the same problem for every optimizer and seed."""
    return np.random.default_rng(zlib.crc32(f"{name}:{dim}:{salt}".encode()))


def _counts(dim, shares):
    """Parameter counts per kind from ``shares`` (fractions); every kind with a share gets at least one."""
    counts = {kind: 0 for kind in ("float", "int", "bool", "choice")}
    for kind, share in shares.items():
        if kind != "float":
            counts[kind] = max(1, int(round(dim * share)))
    counts["float"] = dim - sum(counts.values())
    return counts


def _shifted(rng, low, high):
    """Optimum coordinates 15-40 % of the box width away from the centre, on a random side."""
    width = high - low
    offset = rng.uniform(0.15, 0.40, size=np.shape(low)) * width
    sign = rng.choice([-1.0, 1.0], size=np.shape(low))
    return (low + high) / 2.0 + sign * offset


def _box(count, low, high):
    return np.full(count, float(low)), np.full(count, float(high))


def _int_box(count, low, high):
    return np.full(count, int(low), dtype=np.int64), np.full(count, int(high), dtype=np.int64)


def _ellipsoid_weights(count, condition):
    if count == 1:
        return np.ones(1)
    return condition ** (np.arange(count) / (count - 1))


def _random_rotation(rng, dim):
    """A uniformly random orthogonal matrix (QR of a Gaussian matrix, signs fixed)."""
    q, r = np.linalg.qr(rng.normal(size=(dim, dim)))
    return q * np.sign(np.diag(r))


def _optimum(floats=(), ints=(), bools=(), choices=()):
    return Point(np.asarray(floats, dtype=float), np.asarray(ints, dtype=np.int64),
                 np.asarray(bools, dtype=np.int64), np.asarray(choices, dtype=np.int64))


def _problem(name, dim, counts, floats, ints, value, f_opt, tags, optimum):
    float_low, float_high = floats
    int_low, int_high = ints
    return Problem(name=name, dim=dim, counts=counts, float_low=float_low, float_high=float_high,
                   int_low=int_low, int_high=int_high, f_opt=f_opt, value=value, tags=tags, optimum=optimum)


# -- the suite ------------------------------------------------------------------------------


def sphere(dim):
    """Sum of squared distances to a shifted optimum; floats in [-5, 10]."""
    counts = _counts(dim, {})
    box = _box(counts["float"], -5, 10)
    opt = _shifted(_rng("sphere", dim), *box)
    return _problem("sphere", dim, counts, box, _int_box(0, 0, 0),
                    lambda p: np.sum((p.floats - opt) ** 2), 0.0, "separable, unimodal, float", _optimum(opt))


def ellipsoid(dim):
    """Axis-parallel ellipsoid, condition 1e6; 3/4 floats in [-5, 5], 1/4 ints in [-50, 50] (a step of 1 = 0.1)."""
    counts = _counts(dim, {"int": 0.25})
    rng = _rng("ellipsoid", dim)
    floats, ints = _box(counts["float"], -5, 5), _int_box(counts["int"], -50, 50)
    float_opt = _shifted(rng, *floats)
    int_opt = np.round(_shifted(rng, *ints)).astype(np.int64)
    weights = rng.permutation(_ellipsoid_weights(counts["float"] + counts["int"], 1e6))
    float_w, int_w = weights[:counts["float"]], weights[counts["float"]:]

    def value(p):
        return np.sum(float_w * (p.floats - float_opt) ** 2) + np.sum(int_w * ((p.ints - int_opt) / 10.0) ** 2)

    return _problem("ellipsoid", dim, counts, floats, ints, value, 0.0,
                    "separable, unimodal, ill-conditioned, float+int", _optimum(float_opt, int_opt))


def rotated_ellipsoid(dim):
    """An ellipsoid (condition 1e4) in randomly rotated coordinates; floats in [-5, 5]."""
    counts = _counts(dim, {})
    rng = _rng("rotated_ellipsoid", dim)
    box = _box(counts["float"], -5, 5)
    opt = _shifted(rng, *box)
    weights = _ellipsoid_weights(dim, 1e4)
    rotation = _random_rotation(rng, dim)
    return _problem("rotated_ellipsoid", dim, counts, box, _int_box(0, 0, 0),
                    lambda p: np.sum(weights * (rotation @ (p.floats - opt)) ** 2), 0.0,
                    "non-separable, unimodal, float", _optimum(opt))


def rosenbrock(dim):
    """Shifted Rosenbrock (minimum at the shift); floats in [-3, 3]."""
    counts = _counts(dim, {})
    box = _box(counts["float"], -3, 3)
    opt = _shifted(_rng("rosenbrock", dim), box[0], box[1]) * 0.5  # keeps z = x - opt + 1 in a sane range

    def value(p):
        z = p.floats - opt + 1.0
        return np.sum(100.0 * (z[1:] - z[:-1] ** 2) ** 2 + (z[:-1] - 1.0) ** 2)

    return _problem("rosenbrock", dim, counts, box, _int_box(0, 0, 0), value, 0.0,
                    "non-separable, unimodal (curved valley), float", _optimum(opt))


def rastrigin(dim):
    """Shifted Rastrigin: a cosine grid of local minima; floats in [-5.12, 5.12]."""
    counts = _counts(dim, {})
    box = _box(counts["float"], -5.12, 5.12)
    opt = _shifted(_rng("rastrigin", dim), *box)

    def value(p):
        z = p.floats - opt
        return 10.0 * z.size + np.sum(z ** 2 - 10.0 * np.cos(2.0 * math.pi * z))

    return _problem("rastrigin", dim, counts, box, _int_box(0, 0, 0), value, 0.0, "separable, multimodal, float",
                    _optimum(opt))


def ackley(dim):
    """Shifted Ackley; floats in [-10, 30]."""
    counts = _counts(dim, {})
    box = _box(counts["float"], -10, 30)
    opt = _shifted(_rng("ackley", dim), *box)

    def value(p):
        z = p.floats - opt
        return (-20.0 * math.exp(-0.2 * math.sqrt(np.mean(z ** 2))) - math.exp(np.mean(np.cos(2.0 * math.pi * z)))
                + 20.0 + math.e)

    return _problem("ackley", dim, counts, box, _int_box(0, 0, 0), value, 0.0, "non-separable, multimodal, float",
                    _optimum(opt))


#: Where Schwefel's 2.26 function is lowest in one float coordinate.
SCHWEFEL_X = 420.9687462275036


def _schwefel_terms(x):
    return -x * np.sin(np.sqrt(np.abs(x)))


def schwefel(dim):
    """Schwefel 2.26 (deceptive: the best region is far from the second best); half floats, half ints in [-500, 500]."""
    counts = _counts(dim, {"int": 0.5})
    floats, ints = _box(counts["float"], -500, 500), _int_box(counts["int"], -500, 500)
    grid = np.arange(-500, 501)
    best_int_x = int(grid[np.argmin(_schwefel_terms(grid.astype(float)))])
    best_int = float(_schwefel_terms(np.array([float(best_int_x)]))[0])
    best_float = float(_schwefel_terms(np.array([SCHWEFEL_X]))[0])
    constant = 418.9828872724338 * dim
    f_opt = constant + counts["float"] * best_float + counts["int"] * best_int

    def value(p):
        return constant + np.sum(_schwefel_terms(p.floats)) + np.sum(_schwefel_terms(p.ints.astype(float)))

    optimum = _optimum(np.full(counts["float"], SCHWEFEL_X), np.full(counts["int"], best_int_x))
    return _problem("schwefel", dim, counts, floats, ints, value, f_opt,
                    "separable, multimodal, deceptive, float+int", optimum)


def mixed(dim):
    """Floats, ints, bools and choices that all matter, with bool-float interactions.

    40 % floats in [-5, 5], 20 % ints in [-20, 20], 20 % bools, 20 % 4-way choices.
    A float's target moves by 3 unless the bool it is coupled to is right (non-separable);
    each choice has a cost per option, lowest never on the first option. Each block is
    weighted by its mean value at uniformly random points, so each matters about as much.
    """
    counts = _counts(dim, {"int": 0.2, "bool": 0.2, "choice": 0.2})
    rng = _rng("mixed", dim)
    floats, ints = _box(counts["float"], -5, 5), _int_box(counts["int"], -20, 20)
    float_opt = _shifted(rng, *floats)
    int_opt = np.round(_shifted(rng, *ints)).astype(np.int64)
    bool_target = rng.integers(0, 2, size=counts["bool"])
    coupled = np.arange(counts["float"]) % counts["bool"]
    costs = np.array([_choice_costs(rng) for _ in range(counts["choice"])]).reshape(counts["choice"], CHOICE_OPTIONS)
    rows = np.arange(counts["choice"])

    def blocks(p):
        right = p.bools[coupled] == bool_target[coupled]
        target = float_opt + np.where(right, 0.0, 3.0)
        return np.array([
            np.mean((p.floats - target) ** 2),
            np.mean(((p.ints - int_opt) / 2.0) ** 2),
            np.mean(p.bools != bool_target),
            np.mean(costs[rows, p.choices]),
        ])

    optimum = _optimum(float_opt, int_opt, bool_target, np.argmin(costs, axis=1))
    problem = _problem("mixed", dim, counts, floats, ints, None, 0.0,
                       "non-separable (bool-float coupling), float+int+bool+choice", optimum)
    sampler = np.random.default_rng(zlib.crc32(f"mixed:{dim}:weights".encode()))
    scale = np.mean([blocks(problem.random_point(sampler)) for _ in range(200)], axis=0)
    problem.value = lambda p: float(np.sum(blocks(p) / scale))
    return problem


def _choice_costs(rng):
    """Costs of the options of one choice: a permutation of 0..3 whose 0 is never the first option."""
    costs = rng.permutation(CHOICE_OPTIONS).astype(float)
    if costs[0] == 0.0:
        swap = rng.integers(1, CHOICE_OPTIONS)
        costs[0], costs[swap] = costs[swap], costs[0]
    return costs


def noisy_sphere(dim):
    """A sphere seen through additive Gaussian noise (sd 2 % of its mean at random points).

    3/4 floats in [-10, 5], 1/4 ints in [-30, 10] (a step of 1 = 0.25).
    """
    counts = _counts(dim, {"int": 0.25})
    rng = _rng("noisy_sphere", dim)
    floats, ints = _box(counts["float"], -10, 5), _int_box(counts["int"], -30, 10)
    float_opt = _shifted(rng, *floats)
    int_opt = np.round(_shifted(rng, *ints)).astype(np.int64)

    def value(p):
        return np.sum((p.floats - float_opt) ** 2) + np.sum(((p.ints - int_opt) / 4.0) ** 2)

    problem = _problem("noisy_sphere", dim, counts, floats, ints, value, 0.0,
                       "separable, unimodal, noisy, float+int", _optimum(float_opt, int_opt))
    sampler = np.random.default_rng(zlib.crc32(f"noisy_sphere:{dim}:noise".encode()))
    problem.noise = 0.02 * float(np.mean([value(problem.random_point(sampler)) for _ in range(200)]))
    return problem


#: Every function of the suite, by name, in report order.
SUITE = {
    "sphere": sphere,
    "ellipsoid": ellipsoid,
    "rotated_ellipsoid": rotated_ellipsoid,
    "rosenbrock": rosenbrock,
    "rastrigin": rastrigin,
    "ackley": ackley,
    "schwefel": schwefel,
    "mixed": mixed,
    "noisy_sphere": noisy_sphere,
}

_CACHE = {}


def check(prob):
    """Raise if ``prob`` is inconsistent: its optimum must reach ``f_opt``, and the centre must not."""
    reached = prob.evaluate(prob.optimum)[1]
    if abs(reached - prob.f_opt) > 1e-6 * max(1.0, abs(prob.f_opt)):
        raise AssertionError(f"{prob.name} at {prob.dim}: the optimum gives {reached}, not f_opt = {prob.f_opt}")
    if prob.evaluate(prob.centre())[1] <= prob.f_opt:
        raise AssertionError(f"{prob.name} at {prob.dim}: the centre of the box is already optimal")


def problem(name, dim):
    """The :class:`Problem` ``name`` at ``dim`` parameters (built once per process)."""
    key = (name, dim)
    if key not in _CACHE:
        _CACHE[key] = SUITE[name](dim)
    return _CACHE[key]

