package dashboard

import "testing"

func TestCountWritesThousandsSeparators(t *testing.T) {
	f := 7021056.4
	for _, c := range []struct {
		in   any
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {504357, "504,357"}, {uint64(1234567), "1,234,567"}, {int64(-12345), "-12,345"},
		{f, "7,021,056"}, {&f, "7,021,056"}, {(*float64)(nil), "–"}} {
		if got := count(c.in); got != c.want {
			t.Errorf("count(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}
