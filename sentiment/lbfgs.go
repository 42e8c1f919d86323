package sentiment

import "math"

// lbfgs minimises a smooth function by limited-memory BFGS (10 pairs)
// with a backtracking (Armijo) line search, from x, which it overwrites
// with the minimiser. fg writes the gradient at w into g and returns the
// function's value. It stops after maxIter iterations, when the last
// window iterations lowered the value by less than window·tol relative to
// it (a window, not one iteration: one short step does not stop it), or
// when no step lowers it any more. It returns the iterations run.
// Deterministic.
func lbfgs(x []float64, fg func(w, g []float64) float64, maxIter int, tol float64) int {
	const (
		mem    = 10
		c1     = 1e-4
		steps  = 40
		window = 5
	)
	d := len(x)
	g := make([]float64, d)
	f := fg(x, g)
	hist := []float64{f} // f after each iteration, the last window+1
	s := make([][]float64, 0, mem)
	y := make([][]float64, 0, mem)
	rho := make([]float64, 0, mem)
	alpha := make([]float64, mem)
	dir := make([]float64, d)
	xn := make([]float64, d)
	gn := make([]float64, d)
	for it := 1; it <= maxIter; it++ {
		// dir = -H·g by the two-loop recursion
		for k := range dir {
			dir[k] = -g[k]
		}
		for j := len(s) - 1; j >= 0; j-- {
			alpha[j] = rho[j] * dotv(s[j], dir)
			axpy(-alpha[j], y[j], dir)
		}
		if j := len(s) - 1; j >= 0 {
			scale(dotv(s[j], y[j])/dotv(y[j], y[j]), dir)
		}
		for j := range s {
			b := rho[j] * dotv(y[j], dir)
			axpy(alpha[j]-b, s[j], dir)
		}
		gd := dotv(g, dir)
		if !(gd < 0) { // not a descent direction: restart from the gradient
			s, y, rho = s[:0], y[:0], rho[:0]
			for k := range dir {
				dir[k] = -g[k]
			}
			gd = dotv(g, dir)
		}
		if gd == 0 {
			return it - 1
		}
		t := 1.0
		if len(s) == 0 {
			t = 1 / math.Sqrt(-gd)
		}
		var fn float64
		ok := false
		for range steps {
			for k := range xn {
				xn[k] = x[k] + t*dir[k]
			}
			fn = fg(xn, gn)
			if fn <= f+c1*t*gd {
				ok = true
				break
			}
			t *= 0.5
		}
		if !ok {
			return it
		}
		// the new pair, reusing the oldest's storage when memory is full
		var sk, yk []float64
		if len(s) == mem {
			sk, yk = s[0], y[0]
			s, y, rho = append(s[:0], s[1:]...), append(y[:0], y[1:]...), append(rho[:0], rho[1:]...)
		} else {
			sk, yk = make([]float64, d), make([]float64, d)
		}
		for k := range sk {
			sk[k] = xn[k] - x[k]
			yk[k] = gn[k] - g[k]
		}
		if sy := dotv(sk, yk); sy > 1e-12*dotv(yk, yk) && sy > 0 {
			s, y, rho = append(s, sk), append(y, yk), append(rho, 1/sy)
		}
		copy(x, xn)
		copy(g, gn)
		f = fn
		if hist = append(hist, f); len(hist) > window+1 {
			hist = hist[1:]
		}
		if len(hist) == window+1 && (hist[0]-f)/math.Max(math.Abs(f), 1e-12) < window*tol {
			return it
		}
	}
	return maxIter
}

func dotv(a, b []float64) float64 {
	s := 0.0
	for k, v := range a {
		s += v * b[k]
	}
	return s
}

func axpy(a float64, x, y []float64) {
	for k, v := range x {
		y[k] += a * v
	}
}

func scale(a float64, x []float64) {
	for k := range x {
		x[k] *= a
	}
}
