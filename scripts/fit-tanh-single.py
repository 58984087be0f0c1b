#!/usr/bin/env python3
# Fits the coefficients of src/SoftmaxCE/Kernels/TanhSingle.cs: tanh(x) = x P(x^2) / Q(x^2), P of degree M and Q of
# degree N in t = x^2, Q(0) = 1, minimising the largest relative error of P(t)/Q(t) against tanh(sqrt t)/sqrt t on
# t in [0, X^2]. Lawson's iteratively reweighted least squares on the linearised problem P - g Q (divided by g times
# the previous Q), in 40-digit mpmath (no numpy needed). Prints the best maximum relative error and the coefficients.
#
#   python3 scripts/fit-tanh-single.py 4 4 9.01    # the committed coefficients (a few minutes)
import sys
import mpmath as mp
mp.mp.dps = 40
m, n = int(sys.argv[1]), int(sys.argv[2])   # deg P, deg Q in t = x^2
X = mp.mpf(sys.argv[3]) if len(sys.argv) > 3 else mp.mpf('9.01')
N = 1200
T = X*X
ts = [T*(1-mp.cos(mp.pi*(i+0.5)/N))/2 for i in range(N)]
def g(t):
    x = mp.sqrt(t)
    return mp.tanh(x)/x
gs = [g(t) for t in ts]
w = [mp.mpf(1)/N]*N
qprev = [mp.mpf(1)]*N
best = None
for it in range(60):
    # unknowns: p0..pm, q1..qn (q0 = 1)
    K = m+1+n
    A = mp.zeros(K, K); b = mp.zeros(K, 1)
    for i in range(N):
        t = ts[i]; s = 1/(gs[i]*qprev[i])
        row = [t**j * s for j in range(m+1)] + [-gs[i]*t**j * s for j in range(1, n+1)]
        rhs = gs[i]*s
        wi = w[i]
        for a in range(K):
            ra = row[a]*wi
            b[a] += ra*rhs
            for c in range(a, K):
                A[a, c] += ra*row[c]
    for a in range(K):
        for c in range(a):
            A[a, c] = A[c, a]
    sol = mp.lu_solve(A, b)
    p = [sol[j] for j in range(m+1)]; q = [mp.mpf(1)] + [sol[m+1+j] for j in range(n)]
    errs = []
    for i in range(N):
        t = ts[i]
        P = mp.polyval(p[::-1], t); Q = mp.polyval(q[::-1], t)
        qprev[i] = Q
        errs.append(P/Q/gs[i] - 1)
    e = max(abs(x) for x in errs)
    if best is None or e < best[0]:
        best = (e, p, q)
    tot = sum(w[i]*abs(errs[i]) for i in range(N))
    w = [w[i]*abs(errs[i])/tot for i in range(N)]
e, p, q = best
print("maxrel", mp.nstr(e, 5))
print("P", [mp.nstr(c, 20) for c in p])
print("Q", [mp.nstr(c, 20) for c in q])
