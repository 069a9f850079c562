package dashboard

import (
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/evident-ebm/evident/metrics"
)

type standupData struct {
	Standup  metrics.Standup
	CSVQuery string
}

// standupPage is the daily view of the work in progress: what needs the
// team's attention today, and why.
func (s *Server) standupPage(c *fiber.Ctx) error {
	v, f, _, err := s.newView(c, "Stand-up", "standup")
	if err != nil {
		return s.pageError(c, v, err)
	}
	withoutEpics(c, &v, &f)
	out, err := s.cfg.Measures.Standup(c.UserContext(), f)
	if err != nil {
		return err
	}
	q := url.Values{}
	c.Request().URI().QueryArgs().VisitAll(func(k, val []byte) { q.Add(string(k), string(val)) })
	q.Set("format", "csv")
	if len(f.Types) > 0 && c.Query("type") == "" {
		q.Set("type", strings.Join(f.Types, ",")) // epics left out, as on the page
	}
	v.Data = standupData{Standup: out, CSVQuery: q.Encode()}
	return s.render(c, "standup", v)
}
