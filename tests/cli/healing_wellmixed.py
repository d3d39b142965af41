#!/usr/bin/env python3
"""Independent reference for stage 2 without gradients (tests/cli/healing_verification.sh).

The healing model's pointwise equations (README, "The healing model"; host/healing_model.h) for
one well-mixed point, written again here from the published form, integrated by an adaptive
Dormand-Prince 5(4) pair (Dormand & Prince 1980, J. Comput. Appl. Math. 6:19; tableau of Hairer,
Norsett & Wanner I, Table II.5.2) at rtol 1e-10, and compared with a pinprick run's
healing_summary.csv (treated-dermis means = the uniform values; the largest growth factors = their
uniform values).

usage: healing_wellmixed.py SUMMARY_CSV PERTURBATION TOLERANCE [--until DAYS]
prints the largest error per quantity and overall, in units of the controller tolerance:
|run - reference| / (scale + |reference|) / tolerance, scale = the half-saturation (growth
factors), the resting density (fibroblasts), the normal content (collagen)."""
import csv
import math
import sys

DAY = 86400.0
NG_PER_ML = 1e-6      # kg/m^3
MM3 = 1e-9            # m^3

# The parameters the test pins with --set (SI).
k = [15 / DAY, 15 / DAY]                        # decay, pdgf and tgf_beta
beta = [0.0, 0.0]                               # basal secretion
sigma = [0.0, 0.004e-15 / DAY]                  # autocrine secretion, kg/(cell s)
Ks = [1 * NG_PER_ML, 1 * NG_PER_ML]
r0, r1, Kr, delta = 0.25 / DAY, 0.674 / DAY, 1 * NG_PER_ML, 0.12 / DAY
Nbar = 3000 / MM3
C, f3 = 200.0, 0.15                             # kg/m^3 (0.2 g/cm3), type III fraction
k31, kd3, kd1 = 1e-4 / DAY, 0.01667 / DAY, 1.266e-4 / DAY
a3, a1, Kc = 30.0, 10.0, 1 * NG_PER_ML
MITOGEN, STIMULUS = 0, 1                        # pdgf drives proliferation, tgf_beta synthesis

# Resting state (gbar = 0 with no basal secretion), and what it fixes.
gbar = [0.0, 0.0]
r_rest = r0 + r1 * gbar[MITOGEN] / (Kr + gbar[MITOGEN])
Kcap = Nbar / (1 - delta / r_rest)
sbar = gbar[STIMULUS] / (Kc + gbar[STIMULUS])
C3, C1 = f3 * C, (1 - f3) * C
p3 = (k31 + kd3) * C3 / (Nbar * (1 + a3 * sbar))
p1 = (kd1 * C1 - k31 * C3) / (Nbar * (1 + a1 * sbar))


def rates(u):
    g0, g1, n, c3, c1 = u
    g = [g0, g1]
    dg = [-k[i] * g[i] + n * (beta[i] + sigma[i] * g[i] / (Ks[i] + g[i])) for i in range(2)]
    gm, gs = g[MITOGEN], g[STIMULUS]
    dn = (r0 + r1 * gm / (Kr + gm)) * n * (1 - n / Kcap) - delta * n
    s = gs / (Kc + gs)
    dc3 = p3 * n * (1 + a3 * s) - k31 * c3 - kd3 * (n / Nbar) * c3
    dc1 = p1 * n * (1 + a1 * s) + k31 * c3 - kd1 * (n / Nbar) * c1
    return [dg[0], dg[1], dn, dc3, dc1]


C_ = [0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1, 1]
A_ = [[], [1 / 5], [3 / 40, 9 / 40], [44 / 45, -56 / 15, 32 / 9],
      [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
      [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
      [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84]]
B4 = [5179 / 57600, 0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40]
SCALE = [Ks[0], Ks[1], Nbar, C, C]


def integrate(u, t0, t1, rtol=1e-10):
    """Adaptive DP5(4) from t0 to t1; error norm max |e_a| / (rtol (scale_a + |u_a|))."""
    t, h = t0, 60.0
    while t < t1:
        h = min(h, t1 - t)
        ks = [rates(u)]
        for s in range(1, 7):
            y = [u[a] + h * sum(A_[s][j] * ks[j][a] for j in range(s)) for a in range(5)]
            ks.append(rates(y))
        y5 = y
        y4 = [u[a] + h * sum(B4[j] * ks[j][a] for j in range(7)) for a in range(5)]
        err = max(abs(y5[a] - y4[a]) / (rtol * (SCALE[a] + abs(u[a]))) for a in range(5))
        if err <= 1:
            t, u = t + h, y5
        h *= min(5.0, max(0.2, 0.9 * (err if err > 0 else 1e-10) ** -0.2))
    return u


def main():
    path, eps, tol = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    until = float(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--until" else math.inf
    u = [gbar[0] + eps * Ks[0], gbar[1] + eps * Ks[1], Nbar * (1 + eps), C3, C1]
    t = 0.0
    worst = {"pdgf": 0.0, "tgf_beta": 0.0, "fibroblasts": 0.0, "collagen": 0.0, "type_III": 0.0}
    rows = 0
    with open(path) as f:
        for row in csv.DictReader(f):
            day = float(row["time_d"])
            if day > until:
                break
            u = integrate(u, t, day * DAY)
            t = day * DAY
            ref = {"pdgf": (u[0], float(row["pdgf_max"]) * NG_PER_ML, Ks[0]),
                   "tgf_beta": (u[1], float(row["tgf_beta_max"]) * NG_PER_ML, Ks[1]),
                   "fibroblasts": (u[2], float(row["treated_fibroblasts_relative"]) * Nbar, Nbar),
                   "collagen": (u[3] + u[4], (1 + float(row["treated_collagen_gain"])) * C, C),
                   "type_III": (u[3] / (u[3] + u[4]), float(row["treated_type_III_share"]), 1.0)}
            for name, (exact, run, scale) in ref.items():
                worst[name] = max(worst[name], abs(run - exact) / (scale + abs(exact)) / tol)
            rows += 1
    print(" ".join(f"{name}={value:.3e}" for name, value in worst.items()))
    print(f"rows={rows} worst={max(worst.values()):.3e} day={t / DAY:g} n_ref={u[2] / Nbar:.9f} "
          f"gain_ref={(u[3] + u[4]) / C - 1:.9e}")


if __name__ == "__main__":
    main()
