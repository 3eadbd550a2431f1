"""Generated time series: the Mackey-Glass delay differential equation (Mackey & Glass 1977), the benchmark of
chaotic-series prediction that Jaeger & Haas (2004) predict with an echo state network.

    dx/dt = beta x(t - tau) / (1 + x(t - tau)^n) - gamma x(t),   beta = 0.2, gamma = 0.1, n = 10

chaotic for tau = 17. Integrated by Euler steps of 1/substeps with the delayed value taken from the history,
sampled once per time unit; the history before t = 0 is constant (x0). Its fixed point is x* = (beta/gamma - 1)^(1/n)
(= 1 with these constants), where the series settles when tau is small.
"""
import numpy as np


def mackey_glass(length: int, *, tau: float = 17.0, beta: float = 0.2, gamma: float = 0.1, n: float = 10.0,
                 x0: float = 1.2, substeps: int = 10, discard: int = 1000) -> np.ndarray:
    """x(t) for t = 1..length (float64, (length,)), after `discard` time units of transient."""
    if length < 1 or substeps < 1 or tau < 0:
        raise ValueError(f"mackey_glass: length={length} and substeps={substeps} must be >= 1, tau={tau} >= 0.")
    dt, delay = 1.0 / substeps, int(round(tau * substeps))
    total = (discard + length) * substeps
    x = np.empty(total + delay + 1)
    x[: delay + 1] = x0                                  # the constant history, up to t = 0
    for i in range(delay, delay + total):
        lagged = x[i - delay]
        x[i + 1] = x[i] + dt * (beta * lagged / (1.0 + lagged ** n) - gamma * x[i])
    return x[delay + substeps * (discard + 1)::substeps][:length]
