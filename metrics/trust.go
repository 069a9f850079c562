package metrics

// Trust says how far to trust a measure: how many issues it rests on (N)
// of how many it could have (Of), which were left out and why, and a
// warning when less than TrustThreshold of them were used (as
// jirametrics warns). docs/metrics.md, "Trust".
type Trust struct {
	N       int       `json:"n"`
	Of      int       `json:"of"`
	LeftOut []LeftOut `json:"left_out"`
	// Caveats are issues the measure counts although a data quality
	// check questions them, with what Evident did about it.
	Caveats []LeftOut `json:"caveats"`
	// Share is N / Of, null when Of is 0.
	Share *float64 `json:"share"`
	// Low says Share is below TrustThreshold.
	Low bool `json:"low"`
}

// LeftOut is a reason issues were left out of a measure, and how many.
type LeftOut struct {
	Reason string `json:"reason"`
	Issues int    `json:"issues"`
}

// TrustThreshold is the share of the data below which a measure warns.
const TrustThreshold = 0.85

// NewTrust is the trust of a measure resting on n issues, the others
// left out for the reasons given (reasons with no issue are dropped).
func NewTrust(n int, left ...LeftOut) Trust {
	t := Trust{N: n, Of: n, LeftOut: []LeftOut{}, Caveats: []LeftOut{}}
	for _, l := range left {
		if l.Issues > 0 {
			t.Of += l.Issues
			t.LeftOut = append(t.LeftOut, l)
		}
	}
	if t.Of > 0 {
		s := round(float64(t.N) / float64(t.Of))
		t.Share = &s
		t.Low = s < TrustThreshold
	}
	return t
}

// WithCaveats adds the caveats that hold for any issue (those of none are
// dropped).
func (t Trust) WithCaveats(c ...LeftOut) Trust {
	for _, l := range c {
		if l.Issues > 0 {
			t.Caveats = append(t.Caveats, l)
		}
	}
	return t
}
