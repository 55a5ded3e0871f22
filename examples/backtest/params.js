# Starting parameters for the example backtest (examples/backtest/backtest.py).
# `name = <JSON value>`; the suffix picks the type; `__` nests for dot access.

crossover__window__fast_int = 5
crossover__window__slow_int = 20
crossover__stop_loss_real_0 = 0.05

meanrev__lookback_int = 10
meanrev__entry_z = 1.5
meanrev__exit_z = 0.3

runtime__allow_short_bool = 0
runtime__sizing_choice = ["fixed", "volatility"]

# constraints gf keeps true for every group, loaded or bred
crossover__window__fast_int < crossover__window__slow_int
crossover__window__fast_int >= 1
meanrev__exit_z < meanrev__entry_z
meanrev__lookback_int >= 2
