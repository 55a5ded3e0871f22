"""Ridge regression by conjugate gradients, in plain Python: the default breeder's score model.

The default breeder fits a separable quadratic model of the score (one linear and
one squared term per numeric parameter, a shared curvature term, one indicator per
discrete value) to the most recent groups, and proposes the model's optimum as one
child of every generation. With a few hundred parameters the model has more terms
than there are scored groups, so it is a ridge regression; it is solved matrix-free
by conjugate gradients on standardized columns, which converge in a dozen iterations
and need no numpy: a 1,000-parameter fit over 640 groups takes 1-2 s here. Terms left
unpenalized (the shared curvature) are projected out first and solved for exactly. A
column of 0s and 1s (a discrete value's indicator) is kept as the rows where it is 1, and
its products add those rows' values rather than multiply every row's: on the suite's
mixed function at 1,000 params (800 such columns of 1,400), the fit takes half the time.
"""

import math
from itertools import accumulate, compress, repeat
from operator import add, itemgetter, mul, sub, truediv

#: Ridge penalty per data point, on standardized columns.
RIDGE = 1e-3
#: Conjugate-gradient iterations (standardized columns converge in about ten).
ITERATIONS = 10
#: :func:`checked_ridge_fit` takes the most steps whose held-out error is within this
#: fraction of the lowest.
SLACK = 0.3
#: The additive model's ridge penalty per data point and its conjugate-gradient iterations.
ADDITIVE_RIDGE, ADDITIVE_ITERATIONS = 1e-2, 10
#: The Box-Cox powers the score may be fitted through (see :func:`transformed_ridge_fit`):
#: 1 is the score itself; 2 to 4 straighten a score that levels off away from the optimum,
#: 0 (the log) and 0.5 one that climbs faster than a square (a quartic, Rosenbrock's valley).
POWERS = (0.0, 0.5, 1.0, 2.0, 3.0, 4.0)
#: Before the power, the scores are shifted so the lowest lies this fraction of its distance
#: to the median above 0, and divided by that distance.
SHIFT = 0.1
#: A power is only chosen with at least this many rows per column: with fewer, the residuals
#: say too little of how well each fits (so from about 250 numeric parameters on, where the
#: model fits at most 640 groups, the scores are fitted as they are).
ROWS_PER_COLUMN = 1.25
#: A power above 1 that would take the largest shifted score beyond e**LARGEST is not tried
#: (Python's floats raise OverflowError rather than reach infinity, and the fit squares them).
LARGEST = 300.0


def _dot(a, b):
    return sum(map(mul, a, b))


def ridge_fit(columns, ys, *, free=(), ridge=RIDGE, iterations=ITERATIONS):
    """``(intercept, [coefficient per column])`` of the ridge regression of ``ys`` on ``columns``.

    Every column is standardized (mean 0, standard deviation 1) for the solve, so the
    penalty treats all alike; coefficients are returned in the columns' own units. A
    constant column gets 0. Columns whose index is in ``free`` are not penalized: they
    are solved for exactly, the others by conjugate gradients with them projected out.

    :param columns: lists of floats, each as long as ``ys``.
    :param ys: the values to explain.
    """
    return _Ridge(columns, len(ys), free, ridge).fit(ys, iterations, residuals=False)[:2]


class _Ridge:
    """The standardized design of :func:`ridge_fit`, made once for fits of several targets."""

    def __init__(self, columns, count, free, ridge):
        self.width, self.count = len(columns), count
        self.kept, self.means, self.sds = [], [], []
        self.penalty = ridge * count
        self.free, self.basis, self.triangle, self.solved, self.cross = [], [], [], [], []
        if count == 0:
            return
        ones = []  # per kept column: the rows where a column of 0s and 1s is 1, else None
        for index, column in enumerate(columns):
            active = _ones(column)
            if active is None:
                mean = sum(column) / count
                centred = list(map(sub, column, repeat(mean, count)))  # map and operator: the loops run in C
                sd = math.sqrt(_dot(centred, centred) / count)
            else:
                mean = len(active) / count
                sd = math.sqrt(mean * (1.0 - mean))
            if sd > 1e-12 * (1.0 + abs(mean)):
                self.kept.append(index)
                self.means.append(mean)
                self.sds.append(sd)
                ones.append(active)
        # Unpenalized columns are solved for exactly, not by conjugate gradients: with a column
        # the penalty does not hold in, ten steps left its coefficient far from converged (the
        # default breeder's shared curvature below 1% of its value at 1,000 params). The other
        # columns and the target are fitted with the free columns projected out (by the
        # Frisch-Waugh-Lovell theorem, the same coefficients), then the free columns'
        # coefficients are solved from what the others leave. The free columns are kept as
        # Q R (Gram-Schmidt): Q the orthonormal basis projected out, R (``triangle``, by
        # column) what takes their coefficients from Q's. A free column the ones before it
        # already explain adds nothing: it gets 0.
        for k, index in enumerate(self.kept):
            if index in free:
                rest, shares = _project_out(self._scaled(columns, k), self.basis, shares=True)
                size = math.sqrt(_dot(rest, rest))
                if size > 1e-9 * math.sqrt(count):
                    self.free.append(k)
                    self.basis.append([x / size for x in rest])
                    self.triangle.append(shares + [size])
        # The penalized columns, those of numbers first: the products below take the rows of
        # the standardized design S and correct for the projection, Z = S - Q (Q'S), rather
        # than store Z, so that a column of 0s and 1s (a discrete value's indicator) stays
        # the list of rows where it is 1, and its products gather and add those rows' values
        # instead of multiplying by every row's (at 1,000 mixed params, 800 of 1,400 columns).
        others = [k for k, index in enumerate(self.kept) if index not in free]
        self.solved = [k for k in others if ones[k] is None] + [k for k in others if ones[k] is not None]
        self.design = _Design([self._scaled(columns, k) for k in self.solved if ones[k] is None],
                              *_flag_parts(self.solved, ones, self.means, self.sds), count)
        self.cross = [self.design.transposed(q) for q in self.basis]  # Q'S, a row per vector

    def _scaled(self, columns, k):
        mean, sd = self.means[k], self.sds[k]
        return [(x - mean) / sd for x in columns[self.kept[k]]]

    def _image(self, direction):  # Z @ direction
        image = self.design.times(direction)
        for q, cross in zip(self.basis, self.cross):
            image = list(map(sub, image, map(mul, q, repeat(_dot(cross, direction)))))
        return image

    def _transposed(self, values):  # Z.T @ values
        found = self.design.transposed(values)
        for q, cross in zip(self.basis, self.cross):
            found = list(map(sub, found, map(mul, cross, repeat(_dot(q, values)))))
        return found

    def _normal(self, direction):  # (Z.T Z + penalty) @ direction, Z the penalized columns, projected
        return list(map(add, self._transposed(self._image(direction)), map(mul, direction, repeat(self.penalty))))

    def fit(self, ys, iterations, residuals=True):
        """``(intercept, coefficients, residual sum of squares)`` of the target ``ys`` (the sum
        ``None`` unless ``residuals``)."""
        count = self.count
        if count == 0:
            return 0.0, [0.0] * self.width, 0.0
        y_mean, y_sd, standard, target, steps = self._steps(ys, iterations)
        if standard is None:  # nothing to explain, or nothing to explain it with
            return y_mean, [0.0] * self.width, y_sd * y_sd * count
        found = steps[-1] if steps else [0.0] * len(self.solved)
        solution = self._solution(standard, found)
        coefficients = [0.0] * self.width
        intercept = y_mean
        for index, value, mean, sd in zip(self.kept, solution, self.means, self.sds):
            coefficients[index] = y_sd * value / sd
            intercept -= coefficients[index] * mean
        if not residuals:
            return intercept, coefficients, None
        misses = list(map(sub, target, self._image(found))) if self.solved else target
        return intercept, coefficients, y_sd * y_sd * _dot(misses, misses)

    def _steps(self, ys, iterations):
        """``(mean, sd, standard, target, steps)`` of ``ys``: ``standard`` is ``ys`` standardized,
        ``target`` that with the free columns projected out, ``steps`` the penalized columns'
        coefficients after each conjugate-gradient step (fewer if they converge); the last
        three ``None`` when there is nothing to explain (constant ``ys``) or nothing to explain
        it with (no column that varies)."""
        y_mean = math.fsum(ys) / self.count
        y_sd = math.sqrt(math.fsum((y - y_mean) ** 2 for y in ys) / self.count)
        if y_sd <= 0 or not self.kept:
            return y_mean, y_sd, None, None, None
        standard = [(y - y_mean) / y_sd for y in ys]
        target = _project_out(standard, self.basis)
        steps = []
        _conjugate_gradients(self._normal, self._transposed(target), iterations, each=steps.append)
        return y_mean, y_sd, standard, target, steps

    def _solution(self, standard, found):
        """Every kept column's standardized coefficient, from ``found`` (the penalized columns'):
        what those leave of the target ``standard`` is fitted by the free columns alone."""
        solution = [0.0] * len(self.kept)
        for k, value in zip(self.solved, found):
            solution[k] = value
        # S c = Q Q'(t - Z b), S = Q R: solve R c = Q'(t - Z b) from the last column back
        right = [_dot(q, standard) - _dot(cross, found) for q, cross in zip(self.basis, self.cross)]
        free = [0.0] * len(self.free)
        for j in reversed(range(len(self.free))):
            later = sum(self.triangle[l][j] * free[l] for l in range(j + 1, len(self.free)))
            free[j] = (right[j] - later) / self.triangle[j][j]
        for k, value in zip(self.free, free):
            solution[k] = value
        return solution

    def held_out_errors(self, ys, columns, held_ys, iterations):
        """The mean squared error on held-out rows (``columns``' values, targets ``held_ys``) of
        the fit to ``ys`` after each of ``iterations`` conjugate-gradient steps, in units of the
        variance of ``ys`` (a step that found nothing new repeats the error before it)."""
        y_mean, y_sd, standard, _target, steps = self._steps(ys, iterations)
        if standard is None:
            return [0.0] * iterations
        ones = [_ones(columns[index]) for index in self.kept]  # the held-out rows' own 0s and 1s
        order = [k for k in range(len(self.kept)) if ones[k] is None] + [k for k in range(len(self.kept))
                                                                           if ones[k] is not None]
        held = _Design([self._scaled(columns, k) for k in order if ones[k] is None],
                       *_flag_parts(order, ones, self.means, self.sds), len(held_ys))
        truth = [(y - y_mean) / y_sd for y in held_ys]
        errors = []
        for found in steps or [[0.0] * len(self.solved)]:
            solution = self._solution(standard, found)
            misses = list(map(sub, held.times([solution[k] for k in order]), truth))
            errors.append(_dot(misses, misses) / len(truth))
        return errors + [errors[-1]] * (iterations - len(errors))


def checked_ridge_fit(columns, ys, *, held_out, free=(), slack=SLACK, iterations=ITERATIONS):
    """:func:`ridge_fit` stopped after as many conjugate-gradient steps as the last ``held_out``
    rows say: the other rows are fitted, and the most steps whose error on those rows is within
    ``slack`` of the lowest win (each step fits more of what the rows say, and more of their
    noise: with noisy scores one step can beat ten). ``(intercept, coefficients, steps)``."""
    train = len(ys) - held_out
    if held_out < 1 or train < 2 or iterations < 1:
        return (*ridge_fit(columns, ys, free=free, iterations=iterations), iterations)
    design = _Ridge([column[:train] for column in columns], train, free, RIDGE)
    errors = design.held_out_errors(ys[:train], [column[train:] for column in columns], ys[train:], iterations)
    lowest = min(errors)
    steps = max(step for step, error in enumerate(errors, 1) if error <= (1 + slack) * lowest)
    return (*ridge_fit(columns, ys, free=free, iterations=steps), steps)


def _project_out(column, basis, shares=False):
    """``column`` less its projection on the orthonormal ``basis`` (one vector at a time, as
    modified Gram-Schmidt does); with ``shares``, also what it had along each vector."""
    found = []
    for vector in basis:
        share = _dot(vector, column)
        column = list(map(sub, column, map(mul, vector, repeat(share))))
        found.append(share)
    return (column, found) if shares else column


class _Design:
    """Standardized columns, kept for products with the rows: a column of numbers as its
    standardized values (row-major too), a column of 0s and 1s as the rows where it is 1,
    whose products gather and add in C (``itemgetter``) instead of multiplying every row."""

    def __init__(self, columns, flags, means, sds, count):
        """``columns``: the columns of numbers, standardized; ``flags``: per column of 0s and
        1s, the rows where it is 1, with its mean and standard deviation in ``means`` and ``sds``.
        A vector multiplied has the numbers' coefficients first."""
        self.count, self.columns, self.dense = count, columns, len(columns)
        self.means, self.sds = means, sds
        # Row-major copies with their own float objects: a dot product over floats that lie
        # together in memory runs about twice as fast as over the columns' floats.
        self.rows = [list(map(mul, row, repeat(1.0))) for row in zip(*columns)] if columns else None
        self.gather_columns = [_gatherer(active) for active in flags]
        per_row = [[] for _ in range(count)]
        for j, active in enumerate(flags):
            for row in active:
                per_row[row].append(j)
        self.gather_rows = [_gatherer(ones) for ones in per_row]

    def times(self, vector):
        """S @ ``vector``: one value per row."""
        dense = self.dense
        image = [_dot(row, vector) for row in self.rows] if self.rows else [0.0] * self.count
        if self.means:
            scaled = list(map(truediv, vector[dense:], self.sds))
            offset = _dot(scaled, self.means)
            image = [x + sum(gather(scaled)) - offset for x, gather in zip(image, self.gather_rows)]
        return image

    def transposed(self, values):
        """S.T @ ``values``: one value per column."""
        found = [_dot(column, values) for column in self.columns]
        if self.means:
            total = sum(values)
            found += [(sum(gather(values)) - mean * total) / sd
                      for gather, mean, sd in zip(self.gather_columns, self.means, self.sds)]
        return found


def _ones(column):
    """The rows where ``column`` (a list or tuple) is 1, if it holds nothing but 0s and 1s; else
    None (also for any other sequence, such as a numpy array: those take the dense way)."""
    if not isinstance(column, (list, tuple)) or column.count(1.0) + column.count(0.0) != len(column):
        return None
    return list(compress(range(len(column)), column))


def _flag_parts(order, ones, means, sds):
    """The columns of 0s and 1s among ``order`` (by ``ones``, their rows that are 1): those
    rows, means and standard deviations, for :class:`_Design`."""
    flagged = [k for k in order if ones[k] is not None]
    return [ones[k] for k in flagged], [means[k] for k in flagged], [sds[k] for k in flagged]


def transformed_ridge_fit(columns, ys, *, free=(), powers=POWERS, shift=SHIFT):
    """``(intercept, coefficients, power)``: :func:`ridge_fit` of ``ys`` through the power that fits best.

    ``ys`` (lower is better) are shifted to start just above 0 (see :data:`SHIFT`), then
    transformed by each of ``powers`` (Box-Cox: ``(y**p - 1) / p``, ``log y`` for 0) and
    fitted; the fit with the highest profile log-likelihood, ``-n/2 log(RSS/n) + (p - 1)
    sum(log y)``, wins. A score that levels off away from the optimum (a saturating
    reward, a distance behind an exponential) is no quadratic, but a power of it can be.
    Only with :data:`ROWS_PER_COLUMN` rows per column or more: otherwise the residuals say
    too little of the fit, and ``ys`` themselves are fitted (power 1). Coefficients are in
    the transformed units (for power 1, the units of ``ys``): compare them with one another.
    """
    if len(ys) < ROWS_PER_COLUMN * (len(columns) + 1) or len(powers) < 2:
        return (*ridge_fit(columns, ys, free=free), 1.0)
    low = min(ys)
    spread = sorted(ys)[len(ys) // 2] - low
    if spread <= 0:
        return (*ridge_fit(columns, ys, free=free), 1.0)
    shifted = [(y - low) / spread + shift for y in ys]
    logs = math.fsum(map(math.log, shifted))
    top = math.log(max(shifted))
    design = _Ridge(columns, len(ys), free, RIDGE)  # standardized once for every power
    best = None
    for power in powers:
        if power > 1 and power * top > LARGEST:
            continue
        if power == 1:  # the scores themselves, their residuals measured in the shifted units
            target, units = ys, spread
        else:
            target = [math.log(y) for y in shifted] if power == 0 else [(y ** power - 1) / power for y in shifted]
            units = 1.0
        intercept, coefficients, rss = design.fit(target, ITERATIONS)
        likelihood = (-0.5 * len(target) * math.log(max(rss / (units * units) / len(target), 1e-300))
                      + (power - 1) * logs)
        if best is None or likelihood > best[0]:
            best = (likelihood, intercept, coefficients, power)
    return best[1:]


def _conjugate_gradients(normal, right, iterations, each=None):
    """Solve ``normal(x) = right`` (``normal`` a symmetric positive definite product) from 0,
    in at most ``iterations`` conjugate-gradient steps (``each``, if given, is called with the
    solution after every step)."""
    solution = [0.0] * len(right)
    residual = list(right)
    direction = list(residual)
    size = _dot(residual, residual)
    for _ in range(iterations):
        if size <= 1e-24:
            break
        product = normal(direction)
        curvature = _dot(direction, product)
        if curvature <= 0:
            break
        step = size / curvature
        solution = [s + step * d for s, d in zip(solution, direction)]
        residual = [r - step * q for r, q in zip(residual, product)]
        new_size = _dot(residual, residual)
        direction = [r + (new_size / size) * d for r, d in zip(residual, direction)]
        size = new_size
        if each is not None:
            each(solution)
    return solution


def quadratic_minimum(linear, square, trust):
    """Where ``linear * u + square * u**2`` is lowest for ``u`` in ``[-trust, trust]``."""
    if square > 1e-12:
        return max(-trust, min(trust, -linear / (2.0 * square)))
    if linear == 0:
        return 0.0
    return -trust if linear > 0 else trust


def hat_fit(columns, ys, knots, *, indicators=(), ridge=ADDITIVE_RIDGE, iterations=ADDITIVE_ITERATIONS):
    """An additive model of ``ys``: a piecewise-linear curve per column plus an effect per indicator.

    Each column's curve is a weighted sum of "hat" functions centred on ``knots`` (evenly
    spaced; a value outside them counts as the nearest end), fitted with the indicator
    columns by ridge regression on standardized columns (conjugate gradients, as
    :func:`ridge_fit`). Only two hats are non-zero at any value, so a product with the
    model costs a few passes over each column whatever the number of knots, and they
    run in C (gathers by ``itemgetter``, ``map`` and ``sum``), not in Python loops.

    :param columns: lists of floats, each as long as ``ys`` (for the default breeder: a
        parameter's values in steps from the strategy's mean).
    :param knots: the evenly spaced positions of the hats (at least two).
    :param indicators: lists of 0.0/1.0, each as long as ``ys``.
    :returns: ``([curve values at the knots, per column], [effect per indicator])``: each
        curve up to a constant (compare values within a curve, not across curves), ``None``
        at a knot no value of its column comes near (nothing was learnt there), and every
        value ``None`` when there is nothing to fit (fewer than two rows, constant ``ys``).
    """
    count, width = len(ys), len(knots)
    curves = [[None] * width for _ in columns]
    effects = [0.0] * len(indicators)
    if count < 2:
        return curves, effects
    y_mean = math.fsum(ys) / count
    y_sd = math.sqrt(math.fsum((y - y_mean) ** 2 for y in ys) / count)
    if y_sd <= 0:
        return curves, effects
    target = [(y - y_mean) / y_sd for y in ys]
    first, spacing, last = knots[0], (knots[-1] - knots[0]) / (width - 1), width - 2
    places = [_hat_places(column, first, knots[-1], spacing, last, width, count) for column in columns]
    indicator_means = [sum(column) / count for column in indicators]
    indicator_sds = [math.sqrt(max(m - m * m, 0.0)) for m in indicator_means]
    indicator_sds = [sd if sd > 1e-12 else 0.0 for sd in indicator_sds]
    penalty = ridge * count

    def forward(hats, flags):
        """Z @ (hats, flags), Z the standardized design: one value per row."""
        image = [0.0] * count
        offset = 0.0
        for place, weights in zip(places, hats):
            scaled = [w / sd if sd else 0.0 for w, sd in zip(weights, place.sds)]
            offset += _dot(place.means, scaled)
            rises = [b - a for a, b in zip(scaled, scaled[1:])] + [0.0]
            # the hat on the left at its knot, plus the rise to the next knot times how far along
            image = list(map(add, image, map(add, place.at_low(scaled), map(mul, place.rights, place.at_low(rises)))))
        for column, weight, mean, sd in zip(indicators, flags, indicator_means, indicator_sds):
            if sd:
                scaled = weight / sd
                offset += mean * scaled
                image = [acc + scaled * x for acc, x in zip(image, column)]
        return [value - offset for value in image]

    def backward(values):
        """Z.T @ values, flattened: every column's hat weights, then the indicators'."""
        total = math.fsum(values)
        found = []
        for place in places:
            ordered = place.order(values)  # the values grouped by the hat on their left
            # running totals, so each hat's share is one subtraction
            lefts = list(accumulate(map(mul, ordered, place.sorted_lefts), initial=0.0))
            rights = list(accumulate(map(mul, ordered, place.sorted_rights), initial=0.0))
            bins = [0.0] * width
            for low, begin, end in place.runs:
                bins[low] += lefts[end] - lefts[begin]
                bins[low + 1] += rights[end] - rights[begin]
            found += [(b - m * total) / sd if sd else 0.0 for b, m, sd in zip(bins, place.means, place.sds)]
        found += [(_dot(column, values) - mean * total) / sd if sd else 0.0
                  for column, mean, sd in zip(indicators, indicator_means, indicator_sds)]
        return found

    def split(vector):
        return [vector[i * width:(i + 1) * width] for i in range(len(columns))], vector[len(columns) * width:]

    def normal(direction):  # (Z.T Z + penalty) @ direction
        return [q + penalty * d for q, d in zip(backward(forward(*split(direction))), direction)]

    hats, flags = split(_conjugate_gradients(normal, backward(target), iterations))
    curves = [[y_sd * w / sd if sd else (0.0 if mean else None) for w, mean, sd in zip(weights, place.means, place.sds)]
              for weights, place in zip(hats, places)]
    effects = [y_sd * w / sd if sd else 0.0 for w, sd in zip(flags, indicator_sds)]
    return curves, effects


class _HatPlaces:
    """Where one column's values fall among the hats, precomputed for :func:`hat_fit`'s products."""

    __slots__ = ("rights", "at_low", "order", "runs", "sorted_lefts", "sorted_rights", "means", "sds")


def _hat_places(column, low_end, high_end, spacing, last, width, count):
    place = _HatPlaces()
    lows, rights = [], []
    for value in column:
        position = (min(max(value, low_end), high_end) - low_end) / spacing
        low = min(int(position), last)
        lows.append(low)
        rights.append(position - low)
    place.rights = rights
    # itemgetter gathers in C; with one index it returns the item itself, hence the wrappers.
    place.at_low = _gatherer(lows)
    rows = sorted(range(count), key=lows.__getitem__)
    place.order = _gatherer(rows)
    place.sorted_lefts = [1.0 - rights[r] for r in rows]
    place.sorted_rights = [rights[r] for r in rows]
    place.runs = []
    begin = 0
    for index in range(1, count + 1):
        if index == count or lows[rows[index]] != lows[rows[begin]]:
            place.runs.append((lows[rows[begin]], begin, index))
            begin = index
    sums, squares = [0.0] * width, [0.0] * width
    for low, begin, end in place.runs:
        lefts, rights_ = place.sorted_lefts[begin:end], place.sorted_rights[begin:end]
        sums[low] += sum(lefts)
        squares[low] += _dot(lefts, lefts)
        sums[low + 1] += sum(rights_)
        squares[low + 1] += _dot(rights_, rights_)
    place.means = [s / count for s in sums]
    sds = [math.sqrt(max(q / count - m * m, 0.0)) for q, m in zip(squares, place.means)]
    place.sds = [sd if sd > 1e-12 else 0.0 for sd in sds]
    return place


def _gatherer(indices):
    """A function taking a sequence to the tuple of its items at ``indices`` (in C)."""
    if not indices:
        return lambda sequence: ()
    if len(indices) == 1:
        index = indices[0]
        return lambda sequence: (sequence[index],)
    return itemgetter(*indices)
