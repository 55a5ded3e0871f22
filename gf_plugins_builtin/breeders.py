"""Two built-in breeders: ``classic`` (the original tool's rules, exactly) and ``ga``.

(The ``default`` breeder, an evolution strategy, lives in :mod:`gf_plugins_builtin.evolution`.)

``classic`` pairs the parents' best results and mixes two parents per child with the
seed's per-type rules (see DESIGN.md); its weaknesses are kept on purpose.

``ga`` is a genetic algorithm built to fix them: the population size is
chosen (``--population``); parents are weighted by rank; every numeric parameter
moves by a step scaled to that parameter (the spread of the best groups, with a
floor, so a value at 0 still moves and negatives widen like positives); discrete
parameters follow the best groups' votes; the best groups stay parents in later
generations because ranking covers every generation (elitism); and gf refuses
duplicate children.
"""

import itertools
import math

from gf import Breeder, hookimpl
from gf.breeding import Child
from gf.values import encode

# -- classic --------------------------------------------------------------------------


def _interleave(lists):
    return [row for rows in itertools.zip_longest(*lists) for row in rows if row is not None]


class ClassicBreeder(Breeder):
    name = "classic"
    description = "the original geneticfuckery rules: C(k, 2) children of the parents' top results"

    def pairs(self, request):
        """The seed's parent pairs: ``[(group_a, group_b)]``."""
        rows = _interleave([request.group_rows(group, request.compare) for group in request.groups])
        if len(rows) < 3:
            rows = rows * 4
        k = min(request.compare, len(rows))
        return [(rows[i].group, rows[j].group) for i, j in itertools.combinations(range(k), 2)]

    def breed(self, request):
        children = []
        for first, second in self.pairs(request):
            a, b = request.params[first], request.params[second]
            names = list(dict.fromkeys([*a, *b]))
            params = {
                name: self.mix(request, name, a.get(name, b.get(name)), b.get(name, a.get(name)))
                for name in names
            }
            children.append(Child(params, [first, second]))
        return children

    def mix(self, request, name, a, b):
        """One parameter of a child from parent values ``a`` and ``b`` (the seed's rules)."""
        rng = request.rng
        kind = request.types.for_param(name).name
        if kind == "choice":
            # each option once, told apart by its stored form: a list option is no dict key, and 1, 1.0 and true
            # are three options
            union = list({encode(option): option for option in [*a, *b]}.values())
            if rng.random() < 0.5:
                head = rng.choice([a[0], b[0]])
                return [head] + [option for option in union if encode(option) != encode(head)]
            return rng.sample(union, len(union))
        if rng.random() < 0.5 or kind != "bool" and not (_is_number(a) and _is_number(b)):
            # (a value no number, kept from an original database: picked as it is; the child's type check names it)
            return rng.choice([a, b])
        low, high = sorted([a, b])
        if kind == "int":
            return round(rng.uniform(low / 1.25 / 1.05, high * 1.25 * 1.05))
        if kind == "bool":
            return rng.choice([True, False]) if rng.random() < 0.5 else rng.choice([a, b])
        if kind == "real_0":
            return _uniform_below(rng, max(0.0, low / 1.05), min(1.0, high * 1.05))
        if kind == "real_1":
            return _uniform_below(rng, max(1.0, low / 1.05), min(2.0, high * 1.05))
        if kind == "float":
            return rng.uniform(low / 1.05, high * 1.05)
        return request.mutate(name, rng.choice([a, b]), sigma=abs(high - low) or abs(low) * 0.05, rate=0.5)


def _uniform_below(rng, low, high):
    """Uniform in [low, high), never exactly ``high``."""
    if low >= high:
        return low
    while True:
        value = rng.uniform(low, high)
        if value < high:
            return value


# -- default --------------------------------------------------------------------------


def _rank_weights(count):
    """Positive weights that fall with rank (the log-linear weights of evolution strategies)."""
    raw = [math.log(count + 0.5) - math.log(rank + 1) for rank in range(count)]
    total = sum(raw)
    return [weight / total for weight in raw]


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class GeneticBreeder(Breeder):
    name = "ga"
    description = "a genetic algorithm: rank-weighted crossover and scaled mutation of the best groups"

    #: Children drawn around the weighted mean of the parents (the rest cross two parents).
    sample_share = 0.5
    #: Floor of a numeric step, relative to the parameter's magnitude; a parameter
    #: whose best values are all 0 uses the absolute floor, so it still moves.
    relative_floor = 0.2
    absolute_floor = 0.05
    #: Step of the crossover children, relative to the parents' spread.
    step = 1.0

    def breed(self, request):
        rng = request.rng
        groups = request.groups
        population = request.population or max(4, 2 * len(groups))
        weights = _rank_weights(len(groups))
        names = list(dict.fromkeys(name for group in groups for name in request.params[group]))
        owners = self._owners(request, names)
        stats = {name: self._stats(request, name, owners[name], weights) for name in names}
        children = []
        for index in range(population):
            sampled = index < population * self.sample_share
            first, second = rng.choices(groups, weights=weights, k=2)
            params = {}
            for name in names:
                ranked, local_weights = owners[name]
                strength = self._strength(request, name)
                if sampled:
                    params[name] = self._sample(request, name, stats[name], strength)
                else:
                    a, b = (rng.choices(ranked, weights=local_weights, k=2) if ranked is not groups
                            else (first, second))
                    params[name] = self._cross(request, name, a, b, stats[name], strength, len(names))
            children.append(Child(params, [first, second] if first != second else [first]))
        return children

    def _owners(self, request, names):
        """Per param: the ranked groups its values come from (its algo's ranking when tagged)."""
        everyone = (request.groups, _rank_weights(len(request.groups)))
        owners = {name: everyone for name in names}
        for algo, tagged in request.tags.items():
            ranked = [group for group in request.algo_ranking.get(algo, []) if group in request.params]
            if not ranked:
                continue
            for name in tagged:
                if name in owners:
                    owners[name] = (ranked, _rank_weights(len(ranked)))
        return owners

    def _strength(self, request, name):
        factor = 1.0
        for algo, tagged in request.tags.items():
            if name in tagged:
                factor = max(factor, request.algo_strength.get(algo, 1.0))
        return factor

    def _stats(self, request, name, owner, weights):
        ranked, local_weights = owner
        values = [request.params[group].get(name) for group in ranked]
        pairs = [(value, weight) for value, weight in zip(values, local_weights) if value is not None]
        if not pairs:
            return None
        if all(_is_number(value) for value, _ in pairs):
            total = sum(weight for _, weight in pairs)
            mean = sum(value * weight for value, weight in pairs) / total
            spread = math.sqrt(sum(weight * (value - mean) ** 2 for value, weight in pairs) / total)
            magnitude = sum(abs(value) * weight for value, weight in pairs) / total
            floor = self.relative_floor * magnitude if magnitude > 0 else self.absolute_floor
            return {"mean": mean, "sigma": max(spread, floor)}
        votes = {}
        for value, weight in pairs:
            key = repr(value if not isinstance(value, list) else value[0])
            votes.setdefault(key, [value, 0.0])[1] += weight
        return {"votes": list(votes.values())}

    def _sample(self, request, name, stats, strength):
        rng = request.rng
        param_type = request.types.for_param(name)
        if stats is None:
            return None
        if "mean" in stats:
            value = stats["mean"]
            if param_type.name == "int":
                value = int(round(value))
            return request.mutate(name, value, sigma=stats["sigma"] * strength, rate=0.0)
        options = stats["votes"]
        value = rng.choices([option for option, _ in options], weights=[weight for _, weight in options])[0]
        return request.mutate(name, value, sigma=0.0, rate=min(1.0, 0.1 * strength))

    def _cross(self, request, name, a, b, stats, strength, dimensions):
        rng = request.rng
        values = [request.params[group].get(name) for group in (a, b)]
        values = [value for value in values if value is not None] or [None]
        value = rng.choice(values)
        if stats is None or value is None:
            return value
        rate = min(1.0, max(2.0 / dimensions, 0.1)) * strength
        if rng.random() >= rate:
            return value
        if "mean" in stats:
            return request.mutate(name, value, sigma=stats["sigma"] * self.step * strength, rate=0.0)
        return request.mutate(name, value, sigma=0.0, rate=0.5)


@hookimpl
def gf_register_breeders(register):
    register(GeneticBreeder())
    register(ClassicBreeder())
