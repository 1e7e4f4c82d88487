"""Forecasting a real stock price, with gradient monitoring and an honest baseline.

AAPL's daily adjusted close from 2000 to 2013 (shipped with the
``bokeh-sampledata`` package; nothing is downloaded) is cut into windows of
20 daily log returns, split in time order into train / validation / test
(70 / 15 / 15 %, standardised on the training part only; see
``gradwatch.data.make_windows``). A small ReLU network with He
initialisation learns the next day's log return; a ``GradientMonitor``
watches its gradients while Adam trains it with gradients clipped by global
norm. The predicted return is turned back into a price, p_t * exp(r).

The baseline is persistence: tomorrow's price = today's price. On daily
prices it is very hard to beat, because day-to-day changes are small and
close to unpredictable from past prices alone (the efficient-market view):
a model that merely matches persistence is doing as well as can be expected,
and this example does not claim to predict the market.

What to look for: the model's test error in dollars beside persistence's
(close to it, usually not below), a directional accuracy near 50 %, and the
monitor's verdict on the training gradients (this shallow ReLU/He network
should be healthy).

Run: ``python examples/10_stock_prediction.py``
"""

import numpy as np

import gradwatch
from gradwatch.data import load_stock, make_windows
from gradwatch.nn import Linear, MSELoss, ReLU, Sequential
from gradwatch.optim import Adam

LOOKBACK, EPOCHS, BATCH = 20, 8, 64

series = load_stock("AAPL")
windows = make_windows(series, lookback=LOOKBACK, horizon=1, target="return")
train, test = windows.train, windows.test
x_train, x_test = train.x.reshape(len(train), -1), test.x.reshape(len(test), -1)
print(
    f"{series.name}: {len(series)} trading days; windows train {len(train)}, "
    f"test {len(test)} ({test.target_dates[0]} to {test.target_dates[-1]})"
)

rng = np.random.default_rng(0)
model = Sequential(
    Linear(LOOKBACK, 64, init="he_normal", rng=rng),
    ReLU(),
    Linear(64, 64, init="he_normal", rng=rng),
    ReLU(),
    Linear(64, 1, rng=rng),
)
optimizer = Adam(model.parameters(), lr=1e-3)
loss = MSELoss()
monitor = gradwatch.GradientMonitor(model, every=5, optimizer=optimizer)

for _epoch in range(EPOCHS):
    order = rng.permutation(len(train))
    for start in range(0, len(order), BATCH):
        rows = order[start : start + BATCH]
        optimizer.zero_grad()
        loss.forward(model(x_train[rows]), train.y[rows])
        model.backward(loss.backward())
        gradwatch.clip_grad_norm(model.parameters(), max_norm=1.0)
        optimizer.step()
monitor.detach()

model.eval()
predicted = windows.to_price(test, model(x_test))
persistence = test.anchor_price  # tomorrow = today
actual = test.target_price


def report(name, price, direction):
    mse = np.mean((price - actual) ** 2)
    mae = np.mean(np.abs(price - actual))
    print(
        f"{name:12s} test MSE {mse:8.4f} $^2   MAE {mae:6.4f} $   direction {direction}"
    )


move = np.sign(actual - test.anchor_price)
hit = np.mean(np.sign(predicted - test.anchor_price) == move)
print(f"test prices from ${actual.min():.2f} to ${actual.max():.2f}")
report("model", predicted, f"{hit:.1%}")
report("persistence", persistence, "n/a (predicts no change)")
ratio = np.mean((predicted - actual) ** 2) / np.mean((persistence - actual) ** 2)
print(f"model MSE / persistence MSE = {ratio:.3f} (below 1 would beat persistence)")
print(f"share of up days in the test period: {np.mean(move > 0):.1%}")
print("Beating persistence on daily prices is hard; matching it is the usual outcome.")
diagnosis = monitor.diagnose()
print(
    f"gradient monitor verdict: {diagnosis.verdict} "
    f"(gradient ratio first/last layer {diagnosis.gradient_ratio:.2g})"
)
