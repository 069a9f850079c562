package dashboard

import (
	"github.com/gofiber/fiber/v2"

	"github.com/evident-ebm/evident/metrics"
)

type initiativesData struct {
	Projects []metrics.EpicForecasts
}

// initiativesPage answers leadership's "when will these be done?": each
// product's open epics in rank order with their forecast.
func (s *Server) initiativesPage(c *fiber.Ctx) error {
	v, f, _, err := s.newView(c, "Initiatives", "initiatives")
	if err != nil {
		return s.pageError(c, v, err)
	}
	v.Filters.HideType = true
	var keys []string
	for _, p := range v.Filters.Projects {
		if f.Project == "" || p.Key == f.Project {
			keys = append(keys, p.Key)
		}
	}
	out := make([]metrics.EpicForecasts, len(keys))
	var fns []func() error
	for i, k := range keys {
		fns = append(fns, func() error {
			pf := f
			pf.Project = k
			ef, err := s.cfg.Measures.Epics(c.UserContext(), pf, 90)
			out[i] = ef
			return err
		})
	}
	if err := parallel(fns...); err != nil {
		return err
	}
	v.Data = initiativesData{Projects: out}
	return s.render(c, "initiatives", v)
}
