//go:build !amd64 || purego

package wmsr

// vectorKernel reports that there is no vector kernel on this build.
func vectorKernel() (ok, avx512 bool) { return false, false }

// round4 is never called where vectorKernel reports false.
func round4(x, own, next *float64, adj, off *int32, s *scratch4, groups, f int, avx512 bool) (failed uint64) {
	panic("wmsr: no vector kernel on this build")
}
