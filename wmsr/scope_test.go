package wmsr

import "testing"

func TestValidateScope(t *testing.T) {
	for _, c := range []struct {
		s  Scope
		n  int
		ok bool
	}{
		{Total(0), 5, true},
		{Total(3), 5, true},
		{Total(-1), 5, false},
		{Local{0, 1, 2}, 3, true},
		{Local{0, 1}, 3, false},
		{Local{0, -1, 2}, 3, false},
		{Fraction(0), 3, true},
		{Fraction(0.49), 3, true},
		{Fraction(0.5), 3, false},
		{Fraction(-0.1), 3, false},
		{nil, 3, false},
	} {
		if err := ValidateScope(c.s, c.n); (err == nil) != c.ok {
			t.Errorf("ValidateScope(%#v, %d) = %v, want ok %v", c.s, c.n, err, c.ok)
		}
	}
}
