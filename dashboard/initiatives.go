package dashboard

import (
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/evident-ebm/evident/metrics"
)

type initiativesData struct {
	Projects []metrics.EpicForecasts
	Options  metrics.EpicOptions
	Unsplit  string            // the unsplit parameter as given ("" for the median)
	Keep     map[string]string // the page's other filters, kept by the options form
	CSVQuery string            // the API query of the same forecast, as CSV
}

// initiativesPage answers leadership's "when will these be done?": each
// product's open epics in rank order with their forecast.
func (s *Server) initiativesPage(c *fiber.Ctx) error {
	v, f, _, err := s.newView(c, "Initiatives", "initiatives")
	if err != nil {
		return s.pageError(c, v, err)
	}
	v.Filters.HideType = true
	o, err := epicOptions(c)
	if err != nil {
		return s.pageError(c, v, err)
	}
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
			ef, err := s.cfg.Measures.Epics(c.UserContext(), pf, o)
			out[i] = ef
			return err
		})
	}
	if err := parallel(fns...); err != nil {
		return err
	}
	d := initiativesData{Projects: out, Options: o, Keep: map[string]string{}}
	if o.Unsplit != nil {
		d.Unsplit = strconv.Itoa(*o.Unsplit)
	}
	q := url.Values{"format": {"csv"}, "wip": {strconv.Itoa(o.WIP)}, "history": {strconv.Itoa(o.HistoryDays)}}
	if d.Unsplit != "" {
		q.Set("unsplit", d.Unsplit)
	}
	for _, k := range []string{"project", "site"} {
		if val := c.Query(k); val != "" {
			d.Keep[k] = val
		}
	}
	if site := c.Query("site"); site != "" {
		q.Set("site", site)
	}
	d.CSVQuery = q.Encode()
	v.Data = d
	return s.render(c, "initiatives", v)
}
