"""Ridge regression by conjugate gradients, in plain Python: the default breeder's score model.

The default breeder fits a separable quadratic model of the score (one linear and
one squared term per numeric parameter, a shared curvature term, one indicator per
discrete value) to the most recent groups, and proposes the model's optimum as one
child of every generation. With a few hundred parameters the model has more terms
than there are scored groups, so it is a ridge regression; it is solved matrix-free
by conjugate gradients on standardized columns, which converge in a dozen iterations
and need no numpy: a 1,000-parameter fit over 640 groups takes 1-2 s here.
"""

import math
from operator import mul

#: Ridge penalty per data point, on standardized columns.
RIDGE = 1e-3
#: Conjugate-gradient iterations (standardized columns converge in about ten).
ITERATIONS = 10


def _dot(a, b):
    return sum(map(mul, a, b))


def ridge_fit(columns, ys, *, free=(), ridge=RIDGE, iterations=ITERATIONS):
    """``(intercept, [coefficient per column])`` of the ridge regression of ``ys`` on ``columns``.

    Every column is standardized (mean 0, standard deviation 1) for the solve, so the
    penalty treats all alike; coefficients are returned in the columns' own units. A
    constant column gets 0. Columns whose index is in ``free`` are not penalized.

    :param columns: lists of floats, each as long as ``ys``.
    :param ys: the values to explain.
    """
    count = len(ys)
    if count == 0:
        return 0.0, [0.0] * len(columns)
    y_mean = math.fsum(ys) / count
    y_sd = math.sqrt(math.fsum((y - y_mean) ** 2 for y in ys) / count)
    if y_sd <= 0 or not columns:
        return y_mean, [0.0] * len(columns)
    target = [(y - y_mean) / y_sd for y in ys]
    kept, means, sds, scaled = [], [], [], []
    for index, column in enumerate(columns):
        mean = sum(column) / count
        centred = [v - mean for v in column]
        sd = math.sqrt(_dot(centred, centred) / count)
        if sd > 1e-12 * (1.0 + abs(mean)):
            kept.append(index)
            means.append(mean)
            sds.append(sd)
            scaled.append([v / sd for v in centred])
    coefficients = [0.0] * len(columns)
    if not kept:
        return y_mean, coefficients
    penalty = [0.0 if index in free else ridge * count for index in kept]
    # Row-major copies with their own float objects: a dot product over floats that lie
    # together in memory runs about twice as fast as over the columns' floats.
    rows = [[x * 1.0 for x in row] for row in zip(*scaled)]
    solution = [0.0] * len(kept)
    residual = [_dot(column, target) for column in scaled]
    direction = list(residual)
    size = _dot(residual, residual)
    for _ in range(iterations):
        if size <= 1e-24:
            break
        image = [_dot(row, direction) for row in rows]
        product = [_dot(column, image) + p * d for column, p, d in zip(scaled, penalty, direction)]
        curvature = _dot(direction, product)
        if curvature <= 0:
            break
        step = size / curvature
        solution = [s + step * d for s, d in zip(solution, direction)]
        residual = [r - step * q for r, q in zip(residual, product)]
        new_size = _dot(residual, residual)
        direction = [r + (new_size / size) * d for r, d in zip(residual, direction)]
        size = new_size
    intercept = y_mean
    for index, value, mean, sd in zip(kept, solution, means, sds):
        coefficients[index] = y_sd * value / sd
        intercept -= coefficients[index] * mean
    return intercept, coefficients


def quadratic_minimum(linear, square, trust):
    """Where ``linear * u + square * u**2`` is lowest for ``u`` in ``[-trust, trust]``."""
    if square > 1e-12:
        return max(-trust, min(trust, -linear / (2.0 * square)))
    if linear == 0:
        return 0.0
    return -trust if linear > 0 else trust
